"""`trainer.precision: auto`: bf16 mixed precision only where it is native and was checked.

`auto` resolves to `bf16-mixed` when both hold, else to `32-true`:

- the hardware runs bf16 natively: a CPU with the `amx_bf16` or `avx512_bf16` flag
  (`/proc/cpuinfo`), or a CUDA device for which `torch.cuda.is_bf16_supported()`;
- the lifter is listed in `configs/trainer/_bf16_parity.yaml`, the lifters whose bf16-mixed
  training has been measured to match 32-true (the file names the command that measures it).

Every other value of `trainer.precision` (Lightning's: `32-true`, `bf16-mixed`, `64-true`, ...)
is passed through as it is. The run record stores what ran (`hardware.precision`) and why
(`hardware.precision_reason`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from omegaconf import OmegaConf

PARITY_FILE = Path(__file__).resolve().parent / "configs" / "trainer" / "_bf16_parity.yaml"
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
CPUINFO = Path("/proc/cpuinfo")


def cpu_bf16_flags(cpuinfo: str | Path = CPUINFO) -> list[str]:
    """The native-bf16 flags (`amx_bf16`, `avx512_bf16`) of the CPU; [] where unreadable."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return []
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            flags.update(value.split())
    return [f for f in BF16_CPU_FLAGS if f in flags]


def bf16_parity_lifters(path: str | Path = PARITY_FILE) -> frozenset[str]:
    """The lifters of `_bf16_parity.yaml` (`lifters: [...]`)."""
    data = OmegaConf.to_container(OmegaConf.load(path)) or {}
    lifters = (data.get("lifters") or []) if isinstance(data, dict) else None
    if not isinstance(lifters, list) or not all(isinstance(x, str) for x in lifters):
        raise ValueError(f"{path}: expected `lifters: [name, ...]`, got {data!r}")
    return frozenset(lifters)


def _device(accelerator: str) -> str:
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return "cuda"
    return "cpu"


def native_bf16(accelerator: str) -> tuple[bool, str]:
    """Whether `accelerator` (Lightning's name) runs bf16 natively, and the evidence."""
    if _device(accelerator) == "cuda":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return True, f"CUDA device {torch.cuda.get_device_name(0)} supports bf16"
        return False, "no CUDA device with bf16 support"
    flags = cpu_bf16_flags()
    if flags:
        return True, f"CPU flags {' '.join(flags)}"
    return False, f"CPU without native bf16 (no {' / '.join(BF16_CPU_FLAGS)} flag)"


def resolve_precision(requested: object, accelerator: str, lifter: str,
                      parity_file: str | Path = PARITY_FILE) -> tuple[str, str]:
    """Lightning's precision for `trainer.precision`, and the reason for it.

    Args:
        requested: the configured value (`auto` or any Lightning precision).
        accelerator: `trainer.accelerator` (`cpu`, `gpu`, `cuda`, `auto`).
        lifter: the registry name of the lifter being trained or tested.
        parity_file: the YAML listing the lifters with a measured bf16 training parity.

    Returns:
        `(precision, reason)`, e.g. `("32-true", "auto: ... not measured ...")`.
    """
    value = str(requested)
    if value != "auto":
        return value, f"requested (trainer.precision={value})"
    native, evidence = native_bf16(accelerator)
    if not native:
        return "32-true", f"auto: 32-true, {evidence}"
    if lifter not in bf16_parity_lifters(parity_file):
        return "32-true", (f"auto: 32-true, bf16 native ({evidence}) but no bf16 training "
                           f"parity measured for {lifter} ({Path(parity_file).name})")
    return "bf16-mixed", (f"auto: bf16-mixed, bf16 native ({evidence}) and bf16 training "
                          f"parity measured for {lifter}")


def autocast(precision: str, device_type: str = "cpu") -> contextlib.AbstractContextManager:
    """The autocast context of an inference precision (`32-true` or `bf16-mixed`).

    What Lightning's `bf16-mixed` does around a step, for code outside a Trainer (`predict`).

    Raises:
        ValueError: any other precision.
    """
    if precision in ("32-true", "32", "fp32"):
        return contextlib.nullcontext()
    if precision in ("bf16-mixed", "bf16"):
        return torch.autocast(device_type, dtype=torch.bfloat16)
    raise ValueError(f"precision must be 32-true, bf16-mixed or auto, got {precision!r}")
