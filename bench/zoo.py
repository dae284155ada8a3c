"""`liftbench reproduce zoo`: the embedded leaderboard, every registered lifter (tiny) over seeds.

A leaderboard file is a claim-style YAML under `experiment/claims/` of a config folder with
`kind: leaderboard` (the packaged one is `zoo.yaml`):

```yaml
kind: leaderboard
title: one line
seeds: 3
lifters: all                # every registered lifter, or a list of shell patterns
settings:                   # one table per setting, in order
  in_domain:
    label: in-domain
    base: [experiment=in_domain]
    training: {"mixste ktpformer": [trainer.max_epochs=12]}   # PATTERNS: overrides
training: {}                # the same for every setting (applied before the setting's own)
```

Every (setting, seed, lifter) is one `liftbench fit`: the setting's `base`, `model=LIFTER
size=tiny regime=<the lifter's default_regime>`, the overrides of every `training` key whose
space-separated shell patterns match the lifter (top level first, then the setting's, in file
order), then the command line's `KEY=VALUE`. `copy_2d` always runs first (it is the reference
of the ratio column), whatever `--lifters` says; a lifter whose overrides change the test set
gets a `copy_2d` run on its own test set as well (as a claim's gate does, `bench.reproduce`).

Runs land in `OUT/<setting>/runs`, records in `OUT/<setting>/results/<lifter>/`. `--reuse`
skips a (setting, lifter, seed) that has a record of the same configuration (its `config_hash`:
changing a lifter's budget in the file reruns that lifter only). A run that fails is reported
and the others go on; the table marks it and the command exits with 1. The table itself is
`bench.zoo_table`.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from liftbench.bench.reproduce import CLAIMS, Claim
from liftbench.leaderboard.gate import BASELINE

KIND = "leaderboard"
_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass
class Setting:
    """One setting of the leaderboard (one table): its data, its budget, its per-lifter budgets."""

    name: str
    label: str
    description: str
    base: list[str]
    training: dict[str, list[str]]


@dataclass
class Zoo:
    """A parsed leaderboard file."""

    name: str
    title: str
    seeds: int
    lifters: list[str]  # shell patterns; ["*"] for `all`
    settings: dict[str, Setting]
    training: dict[str, list[str]]
    exclude: list[str] = field(default_factory=list)  # names left out of `lifters` patterns


@dataclass
class ZooRuns:
    """What `run_zoo` did: `{(setting, lifter, seed): record}`, failures and counts."""

    records: dict[tuple[str, str, int], Path] = field(default_factory=dict)
    failed: dict[tuple[str, str, int], str] = field(default_factory=dict)
    ran: int = 0
    reused: int = 0
    seconds: float = 0.0


def _path(name_or_path: str) -> Path | None:
    from liftbench.bench.config import find_config

    path = Path(name_or_path)
    if not path.suffix:
        path = find_config(*CLAIMS, f"{name_or_path}.yaml") or path
    return path if path.is_file() else None


def _raw(path: Path) -> Any:
    return OmegaConf.to_container(OmegaConf.load(path), resolve=True)


def is_leaderboard(name_or_path: str) -> bool:
    """Whether the claim file `name_or_path` (a name or a YAML path) is `kind: leaderboard`."""
    path = _path(name_or_path)
    if path is None:
        return False
    raw = _raw(path)
    return isinstance(raw, dict) and raw.get("kind") == KIND


def _training(where: str, raw: Any) -> dict[str, list[str]]:
    if not raw:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise ValueError(f"{where}: 'training' must map lifter patterns to override lists")
    return {str(k): [str(x) for x in v] for k, v in raw.items()}


def load_zoo(name_or_path: str) -> Zoo:
    """Read and check a leaderboard file (a name in the config folders or a YAML path)."""
    path = _path(name_or_path)
    if path is None:
        raise ValueError(f"unknown leaderboard {name_or_path!r}")
    raw = _raw(path)
    if not isinstance(raw, dict) or raw.get("kind") != KIND:
        raise ValueError(f"{path}: not a leaderboard file (needs 'kind: {KIND}')")
    if not raw.get("settings"):
        raise ValueError(f"{path}: 'settings' must name at least one setting")
    settings = {}
    for name, spec in raw["settings"].items():
        if not _SAFE.match(str(name)) or not isinstance(spec, dict) or "base" not in spec:
            raise ValueError(f"{path}: setting {name!r} needs a folder-safe name (letters, "
                             "digits, '_', '-', '.') and a 'base' override list")
        settings[str(name)] = Setting(
            name=str(name), label=str(spec.get("label", name)),
            description=str(spec.get("description", "")),
            base=[str(x) for x in spec["base"]],
            training=_training(f"{path}: setting {name}", spec.get("training")))
    lifters = raw.get("lifters", "all")
    lifters = ["*"] if lifters == "all" else [str(x) for x in lifters]
    exclude = raw.get("exclude") or []
    if not isinstance(exclude, list):
        raise ValueError(f"{path}: exclude must be a list of lifter names")
    return Zoo(name=path.stem, title=str(raw.get("title", path.stem)),
               seeds=int(raw.get("seeds", 3)), lifters=lifters, settings=settings,
               training=_training(str(path), raw.get("training")),
               exclude=[str(x) for x in exclude])


def select_lifters(zoo: Zoo, patterns: Sequence[str] | None = None) -> list[str]:
    """`copy_2d` first, then the registered lifters matching `patterns` (default: the file's).

    Registered means registered now: built-ins, entry points and modules imported with
    `liftbench --import MODULE`.
    """
    from liftbench.models import list_lifters

    names = list_lifters()
    wanted = list(patterns) if patterns else zoo.lifters
    for pattern in wanted:
        if not fnmatch.filter(names, pattern):
            raise ValueError(f"lifter pattern {pattern!r} matches no registered lifter (a "
                             "lifter of your own: `liftbench --import MODULE reproduce ...`); "
                             f"registered: {', '.join(names)}")
    chosen = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in wanted)
              # the file's exclusions apply to its own patterns, never to names asked for
              and (patterns or n not in zoo.exclude)]
    return [BASELINE, *[n for n in chosen if n != BASELINE]]


def training_overrides(zoo: Zoo, setting: Setting, lifter: str) -> list[str]:
    """The `training` overrides of `lifter` in `setting` (top level first, then the setting's)."""
    out: list[str] = []
    for table in (zoo.training, setting.training):
        for key, items in table.items():
            if any(fnmatch.fnmatchcase(lifter, p) for p in key.split()):
                out += items
    return out


@functools.cache
def _default_regime(lifter: str) -> str:
    from liftbench.bench.checkpoints import default_regime_of

    return "supervised" if lifter == BASELINE else default_regime_of(lifter, {})


def lifter_overrides(zoo: Zoo, setting: Setting, lifter: str) -> list[str]:
    """`model=LIFTER size=tiny regime=<its default regime>` and its training overrides."""
    return [f"model={lifter}", "size=tiny", f"regime={_default_regime(lifter)}",
            *training_overrides(zoo, setting, lifter)]


def setting_claim(zoo: Zoo, setting: Setting, lifters: Sequence[str]) -> Claim:
    """The setting as a claim without comparisons: one run per lifter (for the copy_2d gate)."""
    return Claim(name=f"{zoo.name}-{setting.name}", claim=setting.label, paper="",
                 base=list(setting.base), seeds=zoo.seeds, metric="mpjpe",
                 runs={n: {"overrides": lifter_overrides(zoo, setting, n)} for n in lifters},
                 comparisons=[])


def _compose(claim: Claim, lifter: str, seed: int, out: Path, overrides: Sequence[str],
             baseline_for: str | None = None) -> DictConfig:
    from liftbench.bench.config import compose
    from liftbench.bench.reproduce import baseline_overrides

    if baseline_for is None:
        items = [*claim.base, *claim.runs[lifter]["overrides"], *overrides]
        name = f"{claim.name}-{lifter}-s{seed}"
    else:  # copy_2d on the test set of `baseline_for`
        items = baseline_overrides(claim, baseline_for, overrides)
        name = f"{claim.name}-{BASELINE}-s{seed}-{baseline_for}"
    return compose([*items, f"output_dir={out / 'runs'}",
                    f"results_dir={out / 'results' / lifter}", f"run_name={name}",
                    f"seed={seed}"])


def _summary_line(record: Path) -> str:
    from liftbench.leaderboard.records import read_record

    rec = read_record(record)
    parts = [f"MPJPE {rec.metrics.get('mpjpe', float('nan')):.1f} mm"]
    train = rec.extra.get("train") or {}
    if "cpu_s" in train:
        parts.append(f"{train['cpu_s'] / 60:.2f} CPU-min ({train.get('steps', '?')} steps)")
    return ", ".join(parts)


def run_zoo(zoo: Zoo, out: Path, seeds: Sequence[int], lifters: Sequence[str],
            overrides: Sequence[str] = (), reuse: bool = False,
            fit: Callable[[DictConfig], Path | None] | None = None) -> ZooRuns:
    """Every (setting, seed, lifter) run, plus `copy_2d` on test sets it has not measured.

    Every configuration is composed before the first run (a typo fails at once). Prints one
    progress line when a run starts and one when it ends (or is reused, or fails).

    Args:
        zoo: the leaderboard file.
        out: its folder (`OUT/<setting>/runs`, `OUT/<setting>/results/<lifter>/`).
        seeds: the seeds (data draw and initial weights).
        lifters: `select_lifters(...)`, `copy_2d` first.
        overrides: `KEY=VALUE` for every run (after the file's).
        reuse: skip a run whose record with the same configuration is already there.
        fit: runs one config and returns its record (default `bench.runner.run_fit`).
    """
    from liftbench.bench.reproduce import baseline_records, evaluation_set, finished

    if fit is None:
        from liftbench.bench.runner import run_fit as fit
    if not lifters or lifters[0] != BASELINE:
        raise ValueError(f"lifters must start with {BASELINE} (select_lifters)")
    claims = {s.name: setting_claim(zoo, s, lifters) for s in zoo.settings.values()}
    plan = [(s, seed, lifter, _compose(claims[s.name], lifter, seed, out / s.name, overrides))
            for s in zoo.settings.values() for seed in seeds for lifter in lifters]
    runs = ZooRuns()
    started = time.time()

    def one(tag: str, key: tuple[str, str, int], cfg: DictConfig) -> Path | None:
        results = Path(cfg.results_dir)
        done = finished(results, key[2], cfg) if reuse else None
        if done is not None:
            runs.reused += 1
            print(f"{tag}: reused ({_summary_line(done)})", flush=True)
            return done
        print(f"\n{tag}", flush=True)
        t0 = time.time()
        try:
            path = fit(cfg)
            if path is None:
                raise RuntimeError("the run wrote no record")
        except Exception as exc:  # noqa: BLE001  one broken lifter must not stop the others
            traceback.print_exc()
            runs.failed[key] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            print(f"{tag}: FAILED ({runs.failed[key]})", flush=True)
            return None
        runs.ran += 1
        print(f"{tag}: {_summary_line(Path(path))}; {time.time() - t0:.0f} s", flush=True)
        return Path(path)

    for k, (setting, seed, lifter, cfg) in enumerate(plan, 1):
        tag = f"[{k}/{len(plan)}] {setting.label} · {lifter} (tiny) · seed {seed}"
        key = (setting.name, lifter, seed)
        record = one(tag, key, cfg)
        if record is None:
            continue
        runs.records[key] = record
        where = out / setting.name
        if lifter == BASELINE or (setting.name, BASELINE, seed) in runs.failed:
            continue
        if evaluation_set(record) not in baseline_records(where):
            extra = _compose(claims[setting.name], BASELINE, seed, where, overrides,
                             baseline_for=lifter)
            one(f"{tag}: + {BASELINE} on its test set", (setting.name, f"{BASELINE}:{lifter}",
                                                          seed), extra)
    runs.seconds = time.time() - started
    return runs
