"""Config composition: YAML groups + `group=option` choices + dotted overrides.

`compose(["model=motionagformer_xs", "size=tiny", "regime.loss.w_vel=10"])` loads
`bench/configs/config.yaml`, replaces each group's default by the chosen option
(`bench/configs/<group>/<option>.yaml`), merges an `experiment=` file (which may choose groups and
set any key), then applies the dotted overrides. Keys are checked: a typo fails with a suggestion.
Keys below an "open" section (`model.kwargs`, `data.kwargs`) are free-form constructor arguments.

User config folders (`liftbench --config-dir DIR`, or `LIFTBENCH_CONFIG_DIR`, several folders
joined by `os.pathsep`) are searched before the packaged `bench/configs/`, file by file: a
`data/mydata.yaml` there adds a choice, a `regime/supervised.yaml` there replaces the packaged
one (it may extend it with `_base_: supervised`), and every other file still comes from the
package. The same search serves `liftbench grid`, `sweep`, `reproduce` and `demo` files.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
CONFIG_DIR_ENV = "LIFTBENCH_CONFIG_DIR"
GROUPS = ("model", "data", "regime", "trainer", "logger")
# Short top-level spellings users type on the command line.
ALIASES = {"size": "model.size", "lifter": "model.name", "epochs": "trainer.max_epochs"}
OPEN_SECTIONS = ("model.kwargs", "data.kwargs")


def user_config_dirs() -> list[Path]:
    """The user config folders of `LIFTBENCH_CONFIG_DIR` (`os.pathsep`-separated), in order.

    Raises:
        NotADirectoryError: when a listed folder does not exist.
    """
    dirs = []
    for item in os.environ.get(CONFIG_DIR_ENV, "").split(os.pathsep):
        if not item.strip():
            continue
        path = Path(item).expanduser()
        if not path.is_dir():
            raise NotADirectoryError(f"{CONFIG_DIR_ENV}: config folder {item!r} does not exist")
        dirs.append(path.resolve())
    return dirs


def config_dirs() -> list[Path]:
    """Every config folder in search order: the user's (`--config-dir`), then the packaged one."""
    return [*user_config_dirs(), CONFIG_DIR]


def _searched() -> str:
    return "searched: " + ", ".join(str(d) for d in config_dirs())


def _find(parts: Sequence[str], start: int = 0) -> tuple[int, Path] | None:
    for i, folder in enumerate(config_dirs()[start:], start):
        path = folder.joinpath(*parts)
        if path.is_file():
            return i, path
    return None


def find_config(*parts: str, start: int = 0) -> Path | None:
    """The first existing `DIR/<parts...>` over `config_dirs()[start:]`, or None.

    Args:
        parts: the path below a config folder, e.g. `("data", "mydata.yaml")`.
        start: index of the first folder searched.
    """
    found = _find(parts, start)
    return None if found is None else found[1]


def config_files(*parts: str) -> dict[str, Path]:
    """`{stem: path}` of the `*.yaml` files in `DIR/<parts...>` over all config folders.

    A user folder's file shadows the packaged file of the same name.
    """
    found: dict[str, Path] = {}
    for folder in reversed(config_dirs()):
        for path in folder.joinpath(*parts).glob("*.yaml"):
            found[path.stem] = path
    return dict(sorted(found.items()))


def group_options(group: str) -> list[str]:
    """The options of a config group over all config folders (`_`-prefixed templates excluded)."""
    return [stem for stem in config_files(group) if not stem.startswith("_")]


def _load(path: Path) -> DictConfig:
    cfg = OmegaConf.load(path)
    if not isinstance(cfg, DictConfig):
        raise ValueError(f"{path}: a config file must hold a mapping")
    return cfg


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _load_group(group: str, option: str, start: int = 0) -> DictConfig:
    found = _find((group, f"{option}.yaml"), start)
    if found is not None:
        index, path = found
        cfg = _load(path)
        base = cfg.pop("_base_", None)  # single inheritance within a group
        if not base:
            return cfg
        # A file extending its own namesake (a user's `_base_: supervised` in
        # `regime/supervised.yaml`) extends the one further down the search order.
        return OmegaConf.merge(_load_group(group, base, index + 1 if base == option else 0), cfg)
    if group == "model":
        # Any registered lifter is a valid `model=` choice; its YAML is optional.
        from liftbench.models import is_lifter, list_lifters

        if not is_lifter(option):
            raise ValueError(f"unknown model {option!r}{_suggest(option, list_lifters())} "
                             f"(registered lifters: {', '.join(list_lifters())}; no "
                             f"model/{option}.yaml, {_searched()})")
        cfg = _load(_required("model", "_base.yaml"))
        cfg.name = option
        return cfg
    options = group_options(group)
    if option.startswith("_"):
        raise ValueError(f"{group} option {option!r} is a template, not a choice")
    if start:
        raise ValueError(f"{group} {option!r} extends itself ({_searched()})")
    raise ValueError(
        f"unknown {group} {option!r}{_suggest(option, options)} (available: "
        f"{', '.join(options) or 'none'}; {_searched()})"
    )


def _required(*parts: str) -> Path:
    path = find_config(*parts)
    if path is None:
        raise FileNotFoundError(f"config file {'/'.join(parts)} not found ({_searched()})")
    return path


def _split_overrides(overrides: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    choices: dict[str, str] = {}
    dotted: list[str] = []
    for item in overrides:
        if "=" not in item:
            raise ValueError(
                f"override {item!r} must look like key=value (e.g. trainer.max_epochs=5)"
            )
        key, value = item.split("=", 1)
        key = key.strip()
        if key.startswith("+"):  # Hydra-style "add a new key"; we accept it only in open sections
            key = key[1:]
        key = ALIASES.get(key, key)
        if key in GROUPS or key == "experiment":
            choices[key] = value.strip()
        else:
            dotted.append(f"{key}={value}")
    return choices, dotted


def _flat_keys(cfg: Any, prefix: str = "") -> list[str]:
    keys = []
    if isinstance(cfg, DictConfig):
        for k in cfg.keys():
            path = f"{prefix}{k}"
            keys.append(path)
            keys.extend(_flat_keys(cfg._get_node(k), path + "."))
    return keys


def _check_key(cfg: DictConfig, key: str) -> None:
    if any(key == s or key.startswith(s + ".") for s in OPEN_SECTIONS):
        return
    parts = key.split(".")
    node: Any = cfg
    for i, part in enumerate(parts):
        if not isinstance(node, DictConfig) or part not in node:
            known = _flat_keys(cfg)
            raise ValueError(f"unknown config key {key!r}{_suggest(key, known)}")
        if i < len(parts) - 1:
            node = node._get_node(part)


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose the run configuration from the config folders' defaults and `overrides`.

    Args:
        overrides: `group=option` choices (`model=`, `data=`, `regime=`, `trainer=`, `logger=`,
            `experiment=`), aliases (`size=tiny`), and dotted `key=value` overrides (values are
            parsed as YAML: `2e-4` is a float, `[1,2]` a list).

    Returns:
        The composed, checked config (unresolved interpolations stay as written).
    """
    choices, dotted = _split_overrides(overrides)
    root = _load(_required("config.yaml"))
    defaults = dict(OmegaConf.to_container(root.pop("defaults")))
    experiment = None
    if "experiment" in choices:
        experiment = _load_group("experiment", choices["experiment"])
        defaults.update(dict(OmegaConf.to_container(experiment.pop("defaults", {}))))
    defaults.update({k: v for k, v in choices.items() if k != "experiment"})
    unknown_groups = sorted(set(defaults) - set(GROUPS))
    if unknown_groups:
        raise ValueError(f"unknown config groups {unknown_groups} (groups: {', '.join(GROUPS)})")
    cfg = OmegaConf.merge(root, {g: _load_group(g, defaults[g]) for g in GROUPS})
    cfg.choices = {g: defaults[g] for g in GROUPS}
    cfg.choices.experiment = choices.get("experiment")
    if experiment is not None:
        for key in _flat_keys(experiment):
            if not isinstance(OmegaConf.select(experiment, key), DictConfig):
                _check_key(cfg, key)
        cfg = OmegaConf.merge(cfg, experiment)
    for item in dotted:
        _check_key(cfg, item.split("=", 1)[0])
    cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(dotted))
    assert isinstance(cfg, DictConfig)
    return cfg


def to_container(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain Python containers."""
    out = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(out, dict)
    return out


def config_hash(cfg: DictConfig, exclude: Sequence[str] = ("seed", "run_name", "output_dir",
                                                            "results_dir", "ckpt_path")) -> str:
    """A short, stable hash of everything that defines an experiment (seed and paths excluded)."""
    data = {k: v for k, v in to_container(cfg).items() if k not in exclude}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def save_config(cfg: DictConfig, path: str | Path) -> Path:
    """Write the resolved config as YAML to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OmegaConf.to_yaml(to_container(cfg)))
    return path


def describe_groups() -> str:
    """One line per config group listing its options, user folders included (for `--help`)."""
    lines = []
    for g in (*GROUPS, "experiment"):
        opts = group_options(g)
        extra = " (or any registered lifter: `liftbench models`)" if g == "model" else ""
        lines.append(f"  {g:<11} {', '.join(opts) or '-'}{extra}")
    return "\n".join(lines)
