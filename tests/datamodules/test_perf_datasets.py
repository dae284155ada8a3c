import json

from liftbench.bench.cli import main


def test_perf_datasets_without_fixtures(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["perf", "datasets", "--transforms", "3", "--fixtures", str(tmp_path / "none"),
                 "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["humans71m"]["max_ref_error_units"] < 1e-6
    assert res["humans71m"]["max_copy_difference_units"] < 1e-6
    assert "skipped" in capsys.readouterr().out


def test_perf_datasets_fixtures(shared_data, tmp_path):
    out = tmp_path / "r.json"
    assert main(["perf", "datasets", "--transforms", "2", "--fixtures",
                 str(shared_data / "fixtures"), "--json", str(out)]) == 0
    fx = json.loads(out.read_text())["fixtures"]
    assert len(fx) == 3 and all(r["max_px"] <= 3.0 for r in fx.values())
