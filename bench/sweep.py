"""Grids and sweeps: many `fit` runs from one YAML file, each writing its own run record.

**Grid** (`liftbench grid FILE.yaml`): lifters × regimes × datasets × seeds, with overrides for
every cell and per lifter / regime / dataset:

```yaml
lifters: [motionagformer_xs, videopose3d_27]
regimes: [supervised]
datasets: [synthetic]
seeds: [0, 1]
overrides: [size=tiny, trainer.max_epochs=2]
per_regime: {consistency: [data.kwargs.views=2, data.kwargs.train_on=adapt]}
```

**Sweep** (`liftbench sweep FILE.yaml`): a wandb sweep file (`method: grid | random | bayes`,
`metric`, flat dotted `parameters`, `command: [liftbench, fit, key=value..., ${args_no_hyphens}]`).
Online (a wandb API key and mode not offline/disabled) it is registered with `wandb.sweep` and
run by `wandb.agent`; offline it is expanded here — grid: the Cartesian product of `values`;
random: `run_cap` (or `--count`) draws from `values` and `uniform`, `int_uniform`, `q_uniform`,
`log_uniform_values`, `q_log_uniform_values`, `normal` — and every trial is run. Bayesian search
needs wandb's server: offline it is an error unless `bayes_as_random` is set (then it is
expanded as `random`, said in the output). Parameter names must be flat dotted config keys: a
nested `parameters:` block reaches the command line as a dict repr wandb cannot pass on.
"""

from __future__ import annotations

import itertools
import math
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from omegaconf import DictConfig

Runner = Callable[[DictConfig], "Path | None"]
METHODS = ("grid", "random", "bayes")
DISTRIBUTIONS = ("categorical", "constant", "uniform", "int_uniform", "q_uniform",
                 "log_uniform_values", "q_log_uniform_values", "normal")
_MACRO_PREFIX = "${"


# ---------------------------------------------------------------------------------- values
def _py(v: Any) -> Any:
    """Convert numpy scalars to Python ones (OmegaConf rejects numpy types)."""
    return v.item() if isinstance(v, np.generic) else v


def format_override(key: str, value: Any) -> str:
    """`key=value` whose value omegaconf parses back to the same type (int, float, bool, str)."""
    value = _py(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        # repr keeps a '.' or an exponent ("0.1", "1.0", "1e-05"), so it reads back as float
        text = repr(value) if math.isfinite(value) else str(value)
    elif isinstance(value, (int, str)) or value is None:
        text = "null" if value is None else str(value)
    else:
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return f"{key}={text}"


# ----------------------------------------------------------------------------- sweep files
def load_sweep(path: str | Path) -> dict[str, Any]:
    """Read and validate a wandb sweep YAML (see the module docstring for what is supported)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file {path} not found")
    sweep = yaml.safe_load(path.read_text())
    validate_sweep(sweep, str(path))
    return sweep


def validate_sweep(sweep: Any, where: str = "sweep") -> None:
    """Raise `ValueError` naming the problem if `sweep` is not a usable sweep config."""
    if not isinstance(sweep, dict):
        raise ValueError(f"{where}: a sweep file must hold a mapping")
    method = sweep.get("method")
    if method not in METHODS:
        raise ValueError(f"{where}: method must be one of {METHODS}, got {method!r}")
    params = sweep.get("parameters")
    if not isinstance(params, dict) or not params:
        raise ValueError(f"{where}: 'parameters' must map flat dotted keys to specs")
    metric = sweep.get("metric")
    if method == "bayes" and not (isinstance(metric, dict) and metric.get("name")):
        raise ValueError(f"{where}: method bayes needs metric: {{name: val/mpjpe, goal: ...}}")
    if metric is not None and (not isinstance(metric, dict) or
                               metric.get("goal", "minimize") not in ("minimize", "maximize")):
        raise ValueError(f"{where}: metric must be {{name: ..., goal: minimize|maximize}}")
    for key, spec in params.items():
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: parameter {key!r} must be a mapping (value/values/min…)")
        if "parameters" in spec:
            raise ValueError(
                f"{where}: parameter {key!r} is a nested block; use flat dotted keys such as "
                f"'{key}.<name>' (wandb passes nested values as a dict repr)")
        _distribution(key, spec, where)
        if method == "grid" and "value" not in spec and "values" not in spec:
            raise ValueError(f"{where}: grid search needs 'value' or 'values' for {key!r}, "
                             f"got {sorted(spec)}")
    cmd = sweep.get("command")
    if cmd is not None and not (isinstance(cmd, list) and all(isinstance(c, str) for c in cmd)):
        raise ValueError(f"{where}: command must be a list of strings")


def _distribution(key: str, spec: dict[str, Any], where: str) -> str:
    if "value" in spec:
        return "constant"
    if "values" in spec:
        if not isinstance(spec["values"], list) or not spec["values"]:
            raise ValueError(f"{where}: {key}.values must be a non-empty list")
        return "categorical"
    dist = spec.get("distribution")
    if dist is None:
        if "min" in spec and "max" in spec:  # wandb infers the distribution from the types
            ints = all(isinstance(spec[k], int) and not isinstance(spec[k], bool)
                       for k in ("min", "max"))
            return "int_uniform" if ints else "uniform"
        raise ValueError(f"{where}: parameter {key!r} needs value, values or min/max")
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"{where}: {key}: distribution {dist!r} is not supported offline "
                         f"(supported: {', '.join(DISTRIBUTIONS)})")
    needed = ("mu", "sigma") if dist == "normal" else ("min", "max")
    missing = [k for k in needed if k not in spec]
    if missing:
        raise ValueError(f"{where}: {key}: distribution {dist} needs {missing}")
    if needed == ("min", "max") and not spec["min"] < spec["max"]:
        raise ValueError(f"{where}: {key}: min must be < max, got {spec['min']}, {spec['max']}")
    if dist.startswith("log") or dist.startswith("q_log"):
        if spec["min"] <= 0:
            raise ValueError(f"{where}: {key}: {dist} needs min > 0, got {spec['min']}")
    return dist


def _sample(key: str, spec: dict[str, Any], rng: np.random.Generator) -> Any:
    dist = _distribution(key, spec, "sweep")
    if dist == "constant":
        return spec["value"]
    if dist == "categorical":
        return spec["values"][int(rng.integers(len(spec["values"])))]
    if dist == "normal":
        return float(rng.normal(spec["mu"], spec["sigma"]))
    lo, hi = spec["min"], spec["max"]
    if dist == "int_uniform":
        return int(rng.integers(int(lo), int(hi) + 1))
    if dist in ("uniform", "q_uniform"):
        x = float(rng.uniform(lo, hi))
    else:  # log-uniform in the values' own units
        x = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    if dist.startswith("q_"):
        q = spec.get("q", 1)
        x = round(x / q) * q
        return int(x) if isinstance(q, int) and isinstance(lo, int) else float(x)
    return x


def expand_sweep(sweep: dict[str, Any], count: int | None = None, seed: int = 0,
                 bayes_as_random: bool = False) -> list[dict[str, Any]]:
    """The trials of a sweep, each a `{dotted key: value}` dict (Python types).

    Args:
        sweep: a validated sweep config (`load_sweep`).
        count: number of trials: required for random (default `run_cap`); for grid, an upper
            bound on the trials run (default all).
        seed: seed of the random draws (same seed, same trials).
        bayes_as_random: expand `method: bayes` as random search instead of raising.
    """
    validate_sweep(sweep)
    params = sweep["parameters"]
    method = sweep["method"]
    if method == "bayes":
        if not bayes_as_random:
            raise ValueError(
                "method bayes needs the wandb server (it models finished runs); offline use "
                "--bayes-as-random to draw random trials from the same space, or go online")
        method = "random"
    if count is not None and count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if method == "grid":
        keys = list(params)
        axes = [[params[k]["value"]] if "value" in params[k] else list(params[k]["values"])
                for k in keys]
        trials = [dict(zip(keys, (_py(v) for v in combo))) for combo in itertools.product(*axes)]
        return trials[:count] if count else trials
    n = count or sweep.get("run_cap")
    if not n:
        raise ValueError("random search needs a trial count: run_cap in the file or --count")
    rng = np.random.default_rng(seed)
    return [{k: _py(_sample(k, spec, rng)) for k, spec in params.items()} for _ in range(int(n))]


def command_overrides(sweep: dict[str, Any]) -> tuple[str, list[str]]:
    """The stage (`fit`/`test`) and fixed `key=value` items of the sweep's `command` list."""
    cmd = sweep.get("command") or []
    stage = "test" if "test" in cmd and "fit" not in cmd else "fit"
    fixed = [c for c in cmd if "=" in c and not c.startswith(_MACRO_PREFIX)
             and not c.startswith("-")]
    return stage, fixed


# ----------------------------------------------------------------------------------- grids
@dataclass
class Cell:
    """One run of a grid or sweep: its name, its overrides, and (after running) the outcome."""

    name: str
    overrides: list[str]
    sweep: dict[str, Any] | None = None
    status: str = "pending"
    record: Path | None = None
    error: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


def load_grid(path: str | Path) -> dict[str, Any]:
    """Read a grid YAML (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"grid file {path} not found")
    grid = yaml.safe_load(path.read_text())
    if not isinstance(grid, dict) or not grid.get("lifters") or not grid.get("regimes"):
        raise ValueError(f"{path}: a grid needs non-empty 'lifters' and 'regimes' lists")
    for key in ("lifters", "regimes", "datasets", "seeds", "overrides"):
        if key in grid and not isinstance(grid[key], list):
            raise ValueError(f"{path}: {key} must be a list")
    for key in ("per_lifter", "per_regime", "per_dataset"):
        if not isinstance(grid.get(key, {}), dict):
            raise ValueError(f"{path}: {key} must map a name to a list of overrides")
    return grid


def grid_cells(grid: dict[str, Any], extra: Sequence[str] = ()) -> list[Cell]:
    """One cell per lifter × regime × dataset × seed, with its overrides (extra ones last)."""
    cells = []
    datasets = grid.get("datasets") or ["synthetic"]
    seeds = grid.get("seeds") or [0]
    for lifter, regime, data, seed in itertools.product(grid["lifters"], grid["regimes"],
                                                        datasets, seeds):
        ov = [f"model={lifter}", f"regime={regime}", f"data={data}", f"seed={seed}",
              *grid.get("overrides", []),
              *(grid.get("per_lifter") or {}).get(lifter, []),
              *(grid.get("per_regime") or {}).get(regime, []),
              *(grid.get("per_dataset") or {}).get(data, []), *extra]
        cells.append(Cell(name=f"{lifter} · {regime} · {data} · seed {seed}", overrides=ov))
    return cells


def sweep_cells(sweep: dict[str, Any], trials: Sequence[dict[str, Any]], sweep_id: str,
                extra: Sequence[str] = ()) -> list[Cell]:
    """One cell per trial: the command's fixed overrides, the trial's values, `extra`."""
    _, fixed = command_overrides(sweep)
    cells = []
    for i, params in enumerate(trials):
        ov = [*fixed, *(format_override(k, v) for k, v in params.items()), *extra]
        name = ", ".join(f"{k}={v}" for k, v in params.items())
        cells.append(Cell(name=f"trial {i}: {name}", overrides=ov,
                          sweep={"id": sweep_id, "trial": i, "params": dict(params)}))
    return cells


def local_sweep_id(path: str | Path) -> str:
    """`local-<file stem>-<UTC time>`: the sweep id of an offline expansion."""
    return f"local-{Path(path).stem}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"


def compose_cells(cells: Sequence[Cell]) -> list[DictConfig]:
    """Compose every cell's config before anything runs (a typo fails fast, naming the cell)."""
    from liftbench.bench.config import compose

    cfgs = []
    for cell in cells:
        try:
            cfg = compose(cell.overrides)
        except ValueError as exc:
            raise ValueError(f"{cell.name}: {exc}") from exc
        if cell.sweep is not None:
            cfg.sweep = dict(cell.sweep)
        cfgs.append(cfg)
    return cfgs


def run_cells(cells: Sequence[Cell], runner: Runner | None = None, progress: bool = True,
              desc: str = "grid") -> list[Cell]:
    """Run every cell (continuing past failures); statuses, records and errors are filled in.

    Args:
        cells: from `grid_cells` / `sweep_cells`.
        runner: config → record path; default `bench.runner.run_fit` (tests inject fakes).
        progress: show a tqdm progress bar over the cells.
        desc: progress bar label.
    """
    from tqdm.auto import tqdm

    from liftbench.leaderboard.records import read_record

    if runner is None:
        from liftbench.bench.runner import run_fit as runner
    cfgs = compose_cells(cells)
    bar = tqdm(list(zip(cells, cfgs)), desc=desc, unit="run", disable=not progress)
    for cell, cfg in bar:
        bar.set_postfix_str(cell.name)
        try:
            path = runner(cfg)
            cell.record = Path(path) if path is not None else None
            if cell.record is not None and cell.record.exists():
                cell.metrics = {k: v for k, v in read_record(cell.record).metrics.items()
                                if v == v}
            cell.status = "ok"
        except KeyboardInterrupt:
            cell.status = "interrupted"
            raise
        except Exception as exc:  # a failed cell must not stop the grid
            cell.status = "failed"
            cell.error = f"{type(exc).__name__}: {exc}"
            tail = traceback.format_exc().strip().splitlines()[-3:]
            bar.write(f"FAILED {cell.name}: {cell.error}\n  " + "\n  ".join(tail))
    return list(cells)


def summary(cells: Sequence[Cell], metric: str = "mpjpe") -> str:
    """A plain-text report: one line per cell with its status and metric, failures last."""
    ok = [c for c in cells if c.status == "ok"]
    bad = [c for c in cells if c.status != "ok"]
    lines = [f"{len(ok)}/{len(cells)} runs succeeded"]
    for c in ok:
        value = c.metrics.get(metric)
        shown = f"{metric} {value:.2f}" if value is not None else "no record"
        lines.append(f"  ok      {c.name}: {shown}  ({c.record})")
    for c in bad:
        lines.append(f"  {c.status:<7} {c.name}: {c.error}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ wandb online
def run_online(sweep: dict[str, Any], project: str, entity: str | None = None,
               count: int | None = None, extra: Sequence[str] = (),
               runner: Runner | None = None) -> tuple[str, list[Cell]]:
    """Register `sweep` with wandb and run an agent in this process.

    Each agent call composes the command's fixed overrides + the suggested parameters + `extra`
    (with `logger=wandb`, so Lightning logs into the agent's run), runs it, and at the end one
    summary run logs every trial's parameters and test metrics as a `wandb.Table`.

    Returns:
        The sweep id and the cells that ran.
    """
    import wandb

    if runner is None:
        from liftbench.bench.runner import run_fit as runner
    sweep_id = wandb.sweep(sweep=sweep, project=project, entity=entity)
    _, fixed = command_overrides(sweep)
    cells: list[Cell] = []

    def trial() -> None:
        run = wandb.init()
        params = {k: _py(v) for k, v in dict(run.config).items() if k in sweep["parameters"]}
        ov = [*fixed, *(format_override(k, v) for k, v in params.items()), "logger=wandb",
              *extra]
        cell = Cell(name=f"trial {len(cells)}", overrides=ov,
                    sweep={"id": sweep_id, "trial": len(cells), "params": params})
        cells.append(cell)
        run_cells([cell], runner=runner, progress=False)
        if getattr(wandb, "run", None) is not None:
            wandb.log({f"test/{k}": v for k, v in cell.metrics.items()})
            wandb.finish()

    wandb.agent(sweep_id, function=trial, project=project, entity=entity, count=count)
    keys = list(sweep["parameters"])
    metrics = sorted({m for c in cells for m in c.metrics})
    table = wandb.Table(columns=["trial", "status", *keys, *metrics])
    for i, c in enumerate(cells):
        params = (c.sweep or {}).get("params", {})
        table.add_data(i, c.status, *(params.get(k) for k in keys),
                       *(c.metrics.get(m) for m in metrics))
    wandb.init(project=project, entity=entity, job_type="sweep-summary",
               name=f"sweep-{sweep_id}-summary")
    wandb.log({"sweep_results": table})
    wandb.finish()
    return sweep_id, cells


def wandb_online(mode: str = "auto") -> bool:
    """Whether a sweep should go to the wandb server (API key present and not offline)."""
    from liftbench.bench.logging_setup import resolve_wandb_mode

    return resolve_wandb_mode(mode) == "online"
