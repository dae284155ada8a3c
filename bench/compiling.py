"""`trainer.compile`: `torch.compile` for the lifter, in place (checkpoints unchanged).

The lifter's repeated layers (every `nn.ModuleList` / `nn.Sequential` child of two or more
modules of one class with submodules of their own: MotionAGFormer's `layers`, MotionBERT's
`blocks_st` / `blocks_ts`, ...) are compiled one by one with `nn.Module.compile()`; a lifter
without such layers is compiled whole. Identical layers share one compiled graph, so the compile
time does not grow with the depth (paper-size MotionAGFormer-B fwd+bwd on a busy 2-core CPU: a
first step of 80 s, against 490 s with the whole lifter compiled) and the few ops outside the
layers (embeddings, head) run eagerly.
`nn.Module.compile()` works in place: parameter names and the `state_dict` keys stay the same,
so a checkpoint written with compile loads without it and vice versa.
"""

from __future__ import annotations

from torch import nn

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_OFF = ("false", "no", "off", "0", "none", "")
_ON = ("true", "yes", "on", "1")


def compile_mode(value: object) -> str | None:
    """The `torch.compile` mode of a `trainer.compile` value; None: no compilation.

    Args:
        value: `false` / `true` (mode `default`) / a mode name (`COMPILE_MODES`) / None.

    Raises:
        ValueError: any other value.
    """
    if value is None or value is False:
        return None
    if value is True:
        return "default"
    text = str(value).strip().lower()
    if text in _OFF:
        return None
    if text in _ON:
        return "default"
    if text in COMPILE_MODES:
        return text
    raise ValueError(f"trainer.compile must be false, true or one of {', '.join(COMPILE_MODES)}, "
                     f"got {value!r}")


def repeated_layers(lifter: nn.Module) -> list[tuple[str, nn.Module]]:
    """`(name, layer)` of each layer in the repeated-layer containers among `lifter`'s children."""
    found: list[tuple[str, nn.Module]] = []
    for name, child in lifter.named_children():
        if not isinstance(child, nn.ModuleList | nn.Sequential):
            continue
        items = list(child.named_children())
        if (len(items) >= 2 and len({type(m) for _, m in items}) == 1
                and any(True for _ in items[0][1].children())):
            found += [(f"{name}.{i}", m) for i, m in items]
    return found


def compile_lifter(lifter: nn.Module, mode: object = True) -> list[str]:
    """Compile `lifter` in place (its repeated layers, else the whole module).

    Args:
        lifter: the lifter (e.g. a regime's `module.lifter`).
        mode: a `trainer.compile` value (`compile_mode`); false does nothing.

    Returns:
        The names of the compiled modules (`[""]` for the whole lifter, [] when off).
    """
    chosen = compile_mode(mode)
    if chosen is None:
        return []
    layers = repeated_layers(lifter)
    if not layers:
        lifter.compile(mode=chosen)
        return [""]
    for _, layer in layers:
        layer.compile(mode=chosen)
    return [name for name, _ in layers]
