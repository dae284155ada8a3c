import pytest
import torch
from torch import nn

from liftbench.bench.checkpoints import extract_state_dict, load_lifter_weights


def net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3))


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: sd,
        lambda sd: {"model_pos": {f"module.{k}": v for k, v in sd.items()}},
        lambda sd: {"state_dict": {f"lifter.{k}": v for k, v in sd.items()}, "epoch": 3},
        lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}},
    ],
)
def test_prefixes_are_stripped(tmp_path, wrap):
    src = net()
    path = tmp_path / "ckpt.pt"
    torch.save(wrap(src.state_dict()), path)
    dst = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3))
    load_lifter_weights(dst, path)
    for a, b in zip(src.parameters(), dst.parameters()):
        assert torch.equal(a, b)


def test_other_lifter_is_a_clear_error():
    ckpt = {"state_dict": {f"lifter.{k}": v for k, v in net().state_dict().items()},
            "hyper_parameters": {"lifter_name": "videopose3d"}}
    with pytest.raises(ValueError, match="trained with lifter 'videopose3d'"):
        load_lifter_weights(net(), ckpt, expected_name="motionbert")
    other = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 3))
    with pytest.raises(ValueError, match="shape mismatches"):
        load_lifter_weights(other, ckpt)
    with pytest.raises(ValueError, match="missing keys"):
        load_lifter_weights(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3),
                                          nn.Linear(3, 3)), ckpt)


def test_missing_file_and_garbage(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_lifter_weights(net(), tmp_path / "nope.ckpt")
    with pytest.raises(ValueError, match="no state_dict"):
        extract_state_dict({"epoch": 1})
