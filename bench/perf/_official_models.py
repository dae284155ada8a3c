"""Build the official implementations from a local checkout, for side-by-side `perf models`.

`--official-root DIR` is a folder holding the official repositories' checkouts (or one of them)
under their repository names: `MotionBERT/`, `MotionAGFormer/`, `KASportsFormer/`. Each model is
built exactly as its official builder does for the paper configuration (`models.official`
holds those constructor arguments), at the measured T for the two models whose temporal GCN
fixes T at construction.
"""

from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path

import torch
from torch import nn

from liftbench.models.official import family_of, official_config

# family → (repository folder, module path, class name)
OFFICIAL_CLASSES = {
    "motionbert": ("MotionBERT", "lib.model.DSTformer", "DSTformer"),
    "motionagformer": ("MotionAGFormer", "model.MotionAGFormer", "MotionAGFormer"),
    "kasportsformer": ("KASportsFormer", "model.KASportsFormer", "KASportsFormer"),
}


def official_repo_dir(root: str | Path, family: str) -> Path:
    """`root/<repo>` if it exists, else `root` itself (a single checkout)."""
    folder = Path(root) / OFFICIAL_CLASSES[family][0]
    return folder if folder.is_dir() else Path(root)


def build_official(name: str, root: str | Path, frames: int) -> nn.Module:
    """The official model of lifter `name`'s paper configuration, imported from `root`.

    Args:
        name: liftbench registry name (`motionbert`, `motionagformer_b`, `kasportsformer`, ...).
        root: folder with the official checkouts (see the module docstring).
        frames: T of the measurement (MotionAGFormer / KASportsFormer are built for it).

    Returns:
        The official `nn.Module`, `(B, T, 17, 3)` → `(B, T, 17, 3)`.
    """
    fam = family_of(name).name
    if fam not in OFFICIAL_CLASSES:
        raise ValueError(f"no side-by-side official build for {name!r} "
                         f"(available: {', '.join(OFFICIAL_CLASSES)})")
    repo = official_repo_dir(root, fam)
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    _, module, cls_name = OFFICIAL_CLASSES[fam]
    try:
        cls = getattr(importlib.import_module(module), cls_name)
    except ImportError as exc:
        raise ValueError(f"cannot import the official {cls_name} from {repo}: {exc}") from exc
    kwargs = official_config(name)
    if fam == "motionbert":
        kwargs = {k: kwargs[k] for k in ("dim_in", "dim_out", "dim_feat", "dim_rep", "depth",
                                          "num_heads", "mlp_ratio", "maxlen", "num_joints")}
        kwargs["norm_layer"] = functools.partial(nn.LayerNorm, eps=1e-6)
    else:
        kwargs["act_layer"] = nn.GELU
        kwargs["n_frames"] = frames
    torch.manual_seed(0)
    return cls(**kwargs)
