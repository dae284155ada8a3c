import numpy as np
import pytest

from liftbench.bench.cli import main
from liftbench.datamodules.synthetic.capture import NPZ_KEYS, load_take


def opencv_project(xc, K, d):
    x, y = xc[..., 0] / xc[..., 2], xc[..., 1] / xc[..., 2]
    r2 = x * x + y * y
    radial = 1 + d[0] * r2 + d[1] * r2**2 + d[4] * r2**3
    xd = x * radial + 2 * d[2] * x * y + d[3] * (r2 + 2 * x * x)
    yd = y * radial + d[2] * (r2 + 2 * y * y) + 2 * d[3] * x * y
    return np.stack([K[0, 0] * xd + K[0, 1] * yd + K[0, 2], K[1, 1] * yd + K[1, 2]], -1)


@pytest.fixture(scope="module")
def takes(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    code = main(["data", "synth", "--out", str(out), "--motions", "walk", "kick",
                 "--cameras", "3", "--subjects", "1", "--rig", "random", "--distortion"])
    assert code == 0
    return out


def test_synth_writes_the_take_format(takes):
    files = sorted(takes.glob("*.npz"))
    assert [f.name for f in files] == ["kick_S1.npz", "walk_S1.npz"]
    data = np.load(files[1])
    assert set(NPZ_KEYS) <= set(data.files)
    n = data["pose3d_world"].shape[0]
    assert data["pose3d_world"].shape == (n, 17, 3)
    assert data["pose2d"].shape == (3, n, 17, 3) and data["pose2d_clean"].shape == (3, n, 17, 2)
    assert data["K"].shape == (3, 3, 3) and data["R"].shape == (3, n, 3, 3)
    assert data["t"].shape == (3, n, 3) and data["image_size"].shape == (3, 2)
    assert str(data["action"]) == "walk" and str(data["subject"]) == "S1"
    assert float(data["fps"]) == 50.0
    # clean 2D = projection of the 3D with the stored cameras (incl. distortion), to 1e-6 px
    xc = np.einsum("vtij,tkj->vtki", data["R"], data["pose3d_world"]) + data["t"][:, :, None]
    for v in range(3):
        ref = opencv_project(xc[v], data["K"][v], data["dist"][v])
        assert np.abs(ref - data["pose2d_clean"][v])[data["valid"][v]].max() < 1e-6
    conf = data["pose2d"][..., 2]
    assert conf.min() >= 0 and conf.max() <= 1 and (conf[~data["valid"]] == 0).all()
    rec = load_take(files[1])
    assert rec.num_views == 3 and rec.labels["group"] == "daily"


def test_show_draws_a_png(takes, tmp_path):
    png = tmp_path / "walk.png"
    take = str(takes / "walk_S1.npz")
    assert main(["data", "show", take, "--out", str(png), "--frame", "3"]) == 0
    head = png.read_bytes()[:8]
    assert head == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_bad_input_gives_one_clean_error(tmp_path, capsys):
    assert main(["data", "show", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "x.png")]) == 2
    assert "no take file" in capsys.readouterr().err
    bogus = tmp_path / "bogus.npz"
    np.savez(bogus, a=np.zeros(3))
    assert main(["data", "show", str(bogus), "--out", str(tmp_path / "x.png")]) == 2
    assert "missing keys" in capsys.readouterr().err
    assert main(["data", "synth", "--out", str(tmp_path), "--cameras", "12"]) == 2
    assert "--cameras" in capsys.readouterr().err
    assert main(["data"]) == 2
