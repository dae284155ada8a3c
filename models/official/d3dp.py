"""D3DP (`paTRICK-swk/D3DP`): `D3DP` diffusion-model checkpoints (Human3.6M code path).

`main.py` saves `{"epoch", "lr", "random_state", "optimizer", "model_pos"}` with the weights of the
`nn.DataParallel`-wrapped `D3DP` under `model_pos`: the 12 float64 diffusion-schedule buffers
(`betas`, `alphas_cumprod`, ...) and the MixSTE denoiser under `pose_estimator.`. liftbench's
`D3DP` uses the official names, so the key map is the identity. `random_state` is a pickled
`numpy.random.RandomState`, which the safe loader must allow to read these files.

The official model is configured by `main.py`'s command line (`common/arguments.py`); the
constructor-argument names here are its argparse destinations.
"""

from __future__ import annotations

from typing import Any

from liftbench.models.official.family import OfficialFamily, check_known, require, same_keys

# `common/arguments.py` defaults (`-f 243 -cs 512 -dep 8 --timestep 1000 --scale 1.0`) with the
# README's Human3.6M evaluation (`-num_proposals 5 -sampling_timesteps 5`); `num_joints` comes
# from the dataset (17).
PAPER_CONFIG: dict[str, Any] = {
    "number_of_frames": 243, "cs": 512, "dep": 8, "timestep": 1000, "scale": 1.0,
    "num_proposals": 5, "sampling_timesteps": 5, "test_time_augmentation": True,
    "num_joints": 17,
}  # fmt: skip
YAML_KEYS = tuple(PAPER_CONFIG)


def paper_config(name: str) -> dict[str, Any]:
    """Official arguments of the paper configuration (one for `d3dp`)."""
    return dict(PAPER_CONFIG)


def lifter_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """Official `main.py` arguments → liftbench `D3DP` arguments."""
    check_known(config, PAPER_CONFIG, "d3dp")
    # the official non-flip sampler does not run (see models/d3dp.py)
    require(config, "d3dp", test_time_augmentation=True)
    return {"n_frames": int(config["number_of_frames"]), "dim": int(config["cs"]),
            "depth": int(config["dep"]), "timesteps": int(config["timestep"]),
            "scale": float(config["scale"]), "num_hypotheses": int(config["num_proposals"]),
            "sampling_steps": int(config["sampling_timesteps"]),
            "num_joints": int(config["num_joints"])}  # fmt: skip


FAMILY = OfficialFamily(
    name="d3dp",
    repo="paTRICK-swk/D3DP",
    lifters=("d3dp",),
    weights_keys=("model_pos",),
    data_parallel=True,
    to_liftbench=same_keys,
    to_official=same_keys,
    key_to_official=lambda key: key,
    paper_config=paper_config,
    lifter_kwargs=lifter_kwargs,
    yaml_keys=YAML_KEYS,
)
