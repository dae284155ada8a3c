"""Build the official implementations from a local checkout, for side-by-side `perf models`.

`--official-root DIR` is a folder holding the official repositories' checkouts (or one of them)
under their repository names: `MotionBERT/`, `MotionAGFormer/`, `KASportsFormer/`, `MixSTE/`,
`KTPFormer/`, `STCFormer/`, `P-STMO/`, `D3DP/`. Each model is built exactly as its official
builder does for the paper configuration (`models.official` holds those constructor arguments),
at the measured T where a parameter's size depends on T. The official code is imported from that
checkout at run time; nothing of it is part of liftbench.

Every model measured here maps `(B, T, 17, 3)` → `(B, T, 17, 3)`. Where the official model takes
another layout, a thin adapter does what liftbench's lifter does around the same network:

- MixSTE, KTPFormer, STCFormer: the official models take x, y only; the adapter passes
  `x[..., :2]` (the liftbench lifters drop the confidence channel the same way).
- P-STMO: the official `Model` takes `(B, 2, T, J, 1)` and returns the STE centre frame and the
  VTE frames; the adapter splices the centre frame into the VTE frames, as `PSTMO.forward` does.
- D3DP: one evaluation of the denoiser (the official `D3DP(..., is_train=True).pose_estimator`,
  the 4-D path used in training) on `(x[..., :2], x_t, t)` with a fixed noisy pose `x_t` and
  t = 500 on both sides; the sampler calls it 2·H·K times per clip at evaluation.

Stand-ins for the official side only (they change no number; see docs/official-weights.md):

- `timm` (MixSTE, KTPFormer, STCFormer, D3DP import `DropPath`, `trunc_normal_` and a few unused
  names from it; installing it pulls a CUDA torch) and `local_attention` (imported, unused, by
  MixSTE's `routing_transformer.py`) are given minimal stand-in modules when not installed:
  `DropPath` with timm's semantics (per-sample Bernoulli mask scaled by 1/keep, identity in eval),
  `trunc_normal_` = `torch.nn.init.trunc_normal_`.
- STCFormer's constructor calls `.cuda()` on a constant index tensor: without CUDA it is a no-op
  while the official model is built.
- KTPFormer adds a positional embedding in place to the output of `nn.ReLU`, which current torch
  cannot back-propagate (the official README pins torch 1.7/1.8): the `KPA` ReLU is replaced by
  `nn.Threshold(0, 0)` (the same forward; its backward saves the input as old torch's ReLU did).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from liftbench.models.official import family_of, load_official_state, official_config

# family → (repository folder, module path, class name)
OFFICIAL_CLASSES = {
    "motionbert": ("MotionBERT", "lib.model.DSTformer", "DSTformer"),
    "motionagformer": ("MotionAGFormer", "model.MotionAGFormer", "MotionAGFormer"),
    "kasportsformer": ("KASportsFormer", "model.KASportsFormer", "KASportsFormer"),
    "mixste": ("MixSTE", "common.model_cross", "MixSTE2"),
    "ktpformer": ("KTPFormer", "common.model_ktpformer", "KTPFormer"),
    "stcformer": ("STCFormer", "model.stcformer", "Model"),
    "pstmo": ("P-STMO", "model.stmo", "Model"),
    "d3dp": ("D3DP", "common.diffusionpose", "D3DP"),
}
# family → the official config key holding T, and the liftbench constructor argument for it
FRAME_KEYS = {
    "mixste": ("num_frame", "num_frames"), "ktpformer": ("num_frame", "num_frames"),
    "stcformer": ("frames", None), "pstmo": ("frames", "n_frames"),
    "d3dp": ("number_of_frames", "n_frames"),
}  # fmt: skip
# H36M-17 skeleton parents and mirrored joints (the official Human36mDataset's)
H36M_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
H36M_LEFT, H36M_RIGHT = (4, 5, 6, 11, 12, 13), (1, 2, 3, 14, 15, 16)
DENOISER_T = 500


def official_repo_dir(root: str | Path, family: str) -> Path:
    """`root/<repo>` if it exists, else `root` itself (a single checkout)."""
    folder = Path(root) / OFFICIAL_CLASSES[family][0]
    return folder if folder.is_dir() else Path(root)


def has_official_checkout(root: str | Path, name: str) -> bool:
    """Whether `root` holds the official model file of lifter `name`'s family."""
    fam = family_of(name).name
    if fam not in OFFICIAL_CLASSES:
        return False
    module = OFFICIAL_CLASSES[fam][1].replace(".", "/") + ".py"
    return (official_repo_dir(root, fam) / module).is_file()


class _DropPath(nn.Module):
    """timm's `DropPath`: per-sample stochastic depth, scaled by 1/keep; identity in eval."""

    def __init__(self, drop_prob: float | None = None) -> None:
        super().__init__()
        self.drop_prob = float(drop_prob or 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = (keep + torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype,
                                  device=x.device)).floor_()  # fmt: skip
        return x.div(keep) * mask


def _unavailable(name: str) -> Any:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{name} is a stand-in of the perf harness (the package is not "
                           "installed); the measured official models do not use it")
    return fail


def _install_stand_ins() -> None:
    """Minimal `timm` / `local_attention` modules, only where the real package is missing."""
    if "timm" not in sys.modules and importlib.util.find_spec("timm") is None:
        mods = {n: types.ModuleType(n) for n in ("timm", "timm.data", "timm.models",
                                                 "timm.models.layers", "timm.models.helpers",
                                                 "timm.models.registry")}  # fmt: skip
        mods["timm.data"].IMAGENET_DEFAULT_MEAN = (0.485, 0.456, 0.406)
        mods["timm.data"].IMAGENET_DEFAULT_STD = (0.229, 0.224, 0.225)
        layers = mods["timm.models.layers"]
        layers.DropPath = _DropPath
        layers.trunc_normal_ = nn.init.trunc_normal_
        layers.to_2tuple = lambda x: tuple(x) if isinstance(x, list | tuple) else (x, x)
        mods["timm.models.helpers"].load_pretrained = _unavailable("timm.load_pretrained")
        mods["timm.models.registry"].register_model = lambda fn: fn
        for full, mod in mods.items():
            parent, _, child = full.rpartition(".")
            if parent:
                setattr(mods[parent], child, mod)
            sys.modules[full] = mod
    if ("local_attention" not in sys.modules
            and importlib.util.find_spec("local_attention") is None):
        mod = types.ModuleType("local_attention")
        mod.LocalAttention = _unavailable("local_attention.LocalAttention")
        sys.modules["local_attention"] = mod


@contextlib.contextmanager
def _cuda_calls_are_noops() -> Iterator[None]:
    """Without CUDA, `Tensor.cuda()` returns the tensor (for official constructors only)."""
    if torch.cuda.is_available():
        yield
        return
    original = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda = original  # type: ignore[method-assign]


def _import_official(repo: Path, *modules: str) -> list[types.ModuleType]:
    """Import `modules` from checkout `repo`, not from another checkout's same-named package.

    MixSTE, KTPFormer and D3DP all keep their code in a top-level `common/`, STCFormer and P-STMO
    in `model/` (namespace packages): modules of that name loaded from elsewhere are dropped.
    """
    tops = {m.split(".")[0] for m in modules}
    for key in [k for k in sys.modules if k.split(".")[0] in tops]:
        where = getattr(sys.modules[key], "__file__", None)
        if where is None or not Path(where).resolve().is_relative_to(repo.resolve()):
            del sys.modules[key]
    sys.path.insert(0, str(repo))
    try:
        return [importlib.import_module(m) for m in modules]
    finally:
        sys.path.remove(str(repo))


class _XY(nn.Module):
    """`(B, T, J, 3)` → an official x, y-only model → `(B, T, J, 3)`."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x[..., :2])


class _PSTMO(nn.Module):
    """The official P-STMO `Model` as `PSTMO.forward`: VTE frames, centre frame from the STE."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centre, frames = self.net(x[..., :2].permute(0, 3, 1, 2).unsqueeze(-1))
        centre, frames = (o.squeeze(-1).permute(0, 2, 3, 1) for o in (centre, frames))
        c = (x.shape[1] - 1) // 2
        return torch.cat([frames[:, :c], centre, frames[:, c + 1 :]], dim=1)


class Denoiser(nn.Module):
    """One D3DP denoiser evaluation, `(B, T, J, 3)` → `(B, T, J, 3)` x0 prediction.

    The noisy pose `x_t` (`randn` clamped to ±1.1, seed 0) and the timestep t = 500 are fixed
    per input shape, so both implementations see the same inputs.

    Args:
        net: a denoiser `(x2d (B, T, J, 2), x_t (B, T, J, 3), t (B,) int64) → (B, T, J, 3)`.
        num_joints: J.
    """

    def __init__(self, net: nn.Module, num_joints: int = 17) -> None:
        super().__init__()
        self.net, self.num_joints = net, num_joints
        self._fixed: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor]] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = tuple(x.shape)
        if key not in self._fixed:
            g = torch.Generator().manual_seed(0)
            x_t = torch.randn(*x.shape[:-1], 3, generator=g).clamp(-1.1, 1.1).to(x.device)
            t = torch.full((x.shape[0],), DENOISER_T, dtype=torch.long, device=x.device)
            self._fixed[key] = (x_t, t)
        x_t, t = self._fixed[key]
        return self.net(x[..., :2], x_t, t)


def _frames_config(name: str, frames: int, config: dict[str, Any] | None) -> dict[str, Any]:
    """The official config of `name` (paper, updated by `config`) built for T = `frames`."""
    fam = family_of(name).name
    cfg = official_config(name, config)
    if fam in FRAME_KEYS:
        cfg[FRAME_KEYS[fam][0]] = frames
    return cfg


def _official_network(name: str, root: str | Path, frames: int,
                      config: dict[str, Any] | None = None) -> nn.Module:  # fmt: skip
    """The official `nn.Module` itself (no adapter), built as its training script does."""
    fam = family_of(name).name
    if fam not in OFFICIAL_CLASSES:
        raise ValueError(f"no side-by-side official build for {name!r} "
                         f"(available: {', '.join(OFFICIAL_CLASSES)})")
    repo = official_repo_dir(root, fam)
    _install_stand_ins()
    _, module, cls_name = OFFICIAL_CLASSES[fam]
    try:
        extra = ("common.graph_utils",) if fam == "ktpformer" else ()
        mod, *more = _import_official(repo, module, *extra)
        cls = getattr(mod, cls_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import the official {cls_name} from {repo}: {exc}") from exc
    kwargs = _frames_config(name, frames, config)
    torch.manual_seed(0)
    if fam == "motionbert":
        kwargs = {k: kwargs[k] for k in ("dim_in", "dim_out", "dim_feat", "dim_rep", "depth",
                                          "num_heads", "mlp_ratio", "maxlen", "num_joints")}
        kwargs["norm_layer"] = functools.partial(nn.LayerNorm, eps=1e-6)
        return cls(**kwargs)
    if fam in ("motionagformer", "kasportsformer"):
        kwargs["act_layer"] = nn.GELU
        kwargs["n_frames"] = frames
        return cls(**kwargs)
    if fam == "mixste":
        return cls(**kwargs)
    if fam == "ktpformer":
        graph = more[0]
        adj = graph.adj_mx_from_skeleton_3dhp(len(H36M_PARENTS), list(H36M_PARENTS))
        adj_t = graph.adj_mx_from_skeleton_temporal(frames, list(range(-1, frames - 1)))
        rest = {k: v for k, v in kwargs.items() if k not in ("adj", "adj_temporal")}
        net = cls(adj, adj_t, **rest)
        for m in net.modules():  # see the module docstring
            if type(m).__name__ == "KPA" and isinstance(getattr(m, "relu", None), nn.ReLU):
                m.relu = nn.Threshold(0.0, 0.0)
        return net
    if fam in ("stcformer", "pstmo"):
        opt = argparse.Namespace(**kwargs)
        if fam == "pstmo" and getattr(opt, "stride_num", None) is None:
            from liftbench.models.pstmo import STRIDES

            opt.stride_num = list(STRIDES[frames])
        with _cuda_calls_are_noops():
            return cls(opt)
    # d3dp: the training-time model (DropPath 0.1, 4-D denoiser path), as main.py builds it
    args = argparse.Namespace(**kwargs)
    return cls(args, list(H36M_LEFT), list(H36M_RIGHT), is_train=True)


def _adapt(name: str, net: nn.Module) -> nn.Module:
    fam = family_of(name).name
    if fam in ("mixste", "ktpformer", "stcformer"):
        return _XY(net)
    if fam == "pstmo":
        return _PSTMO(net)
    if fam == "d3dp":
        return Denoiser(net.pose_estimator)
    return net


def build_official(name: str, root: str | Path, frames: int,
                   config: dict[str, Any] | None = None) -> nn.Module:  # fmt: skip
    """The official model of lifter `name`'s paper configuration, imported from `root`.

    Args:
        name: liftbench registry name (`motionbert`, `motionagformer_b`, `mixste`, ...).
        root: folder with the official checkouts (see the module docstring).
        frames: T of the measurement (the models with T-sized parameters are built for it).
        config: official constructor arguments replacing the paper configuration's.

    Returns:
        The official `nn.Module` behind its adapter, `(B, T, 17, 3)` → `(B, T, 17, 3)`.
    """
    return _adapt(name, _official_network(name, root, frames, config))


def build_ours(name: str, frames: int, size: str = "paper",
               config: dict[str, Any] | None = None) -> nn.Module:  # fmt: skip
    """The liftbench model measured against `build_official` (the same configuration and T).

    MixSTE, KTPFormer, STCFormer, P-STMO and D3DP are built from the official configuration
    (`lifter_kwargs_for`) at T = `frames` (`size="paper"`; `"tiny"` takes the registry's tiny
    configuration at that T); D3DP is its denoiser (`Denoiser`). Other lifters are the registry
    build of `size`.
    """
    from liftbench.models import create_lifter

    fam = family_of(name).name if _has_family(name) else None
    if fam not in FRAME_KEYS:
        return create_lifter(name, size=size)
    frame_arg = FRAME_KEYS[fam][1]
    if size == "tiny" and config is None:
        kwargs = {frame_arg: frames} if frame_arg else {}
        lifter = create_lifter(name, size="tiny", **kwargs)
    else:
        kwargs = family_of(name).lifter_kwargs(_frames_config(name, frames, config))
        lifter = create_lifter(name, **kwargs)
    return Denoiser(lifter.pose_estimator, lifter.num_joints) if fam == "d3dp" else lifter


def _has_family(name: str) -> bool:
    try:
        family_of(name)
    except ValueError:
        return False
    return True


def check_parity(name: str, root: str | Path, frames: int, batch: int = 2,
                 config: dict[str, Any] | None = None) -> float:  # fmt: skip
    """Max |Δ| between the official model and liftbench's given the official weights.

    The official model is built (seed 0) from `root`; its state dict goes through the official
    key map (`load_official_state`) into liftbench's lifter; both run in eval mode on the same
    `randn(batch, frames, 17, 3)` input (D3DP: the denoiser on the same `x_t`, t).

    Returns:
        The largest absolute difference of the outputs.
    """
    from liftbench.models import create_lifter
    from liftbench.models.official import lifter_kwargs_for

    net = _official_network(name, root, frames, config)
    cfg = _frames_config(name, frames, config)
    lifter = create_lifter(name, **lifter_kwargs_for(name, cfg))
    load_official_state(lifter, name, net.state_dict(), f"official {name} from {root}")
    fam = family_of(name).name
    ours: nn.Module = Denoiser(lifter.pose_estimator) if fam == "d3dp" else lifter
    theirs = _adapt(name, net)
    x = torch.randn(batch, frames, 17, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return float((ours.eval()(x) - theirs.eval()(x)).abs().max())
