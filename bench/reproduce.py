"""`liftbench reproduce CLAIM`: one command per paper claim, over seeds, with a paired test.

A claim is a YAML file under `bench/configs/experiment/claims/` (`list_claims()`):

```yaml
claim: what the paper says, in one line      # printed with the verdict
paper: who, where
base: [experiment=demo, model=videopose3d_27] # overrides shared by every run
seeds: 3                                      # default seed count (--seeds)
metric: mpjpe                                 # default metric of the comparisons
runs:                                         # in order; one `liftbench fit` per run and seed
  pretrain: {overrides: [regime=supervised, ...]}
  adapted: {init_from: pretrain, overrides: [regime=consistency, ...]}
  fused: {init_from: pretrain, overrides: [...], evaluate: fusion_jdr}  # + extra metrics
comparisons:                                  # "better" must have the lower value
  - {better: adapted, worse: pretrain}
  - {better: "adapted:iter{last}/test_mono_pa_mpjpe", worse: "adapted:iter0/test_mono_pa_mpjpe"}
```

A side of a comparison is `RUN` (the comparison's `metric`) or `RUN:METRIC` (any record metric;
`{last}` is the highest `iter<k>` the record holds). For each comparison the per-seed pairs are
tested with a one-sided paired t-test (H1: better < worse); with n seeds an exact sign-flip test
cannot go below 2^-n (0.125 for 3 seeds), so the t-test is the one that can reach p < 0.05. The
verdict is "reproduced" when every comparison has p < `alpha` and a positive mean gain.

Runs land in `OUT/runs`, records in `OUT/results/<run>`; `--reuse` skips a (run, seed) whose
record is already there, so an interrupted reproduction continues where it stopped.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

CLAIMS_DIR = Path(__file__).parent / "configs" / "experiment" / "claims"
_ITER = re.compile(r"^iter(\d+)/")


def list_claims() -> list[str]:
    """Names of the packaged claims."""
    return sorted(p.stem for p in CLAIMS_DIR.glob("*.yaml"))


@dataclass
class Claim:
    """A parsed claim file."""

    name: str
    claim: str
    paper: str
    base: list[str]
    seeds: int
    metric: str
    runs: dict[str, dict[str, Any]]
    comparisons: list[dict[str, str]]


def load_claim(name_or_path: str) -> Claim:
    """Read and check a claim (a packaged name or a YAML path)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CLAIMS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown claim {name_or_path!r}; packaged: {', '.join(list_claims())}")
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a claim file must hold a mapping")
    missing = [k for k in ("claim", "runs", "comparisons") if k not in raw]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}")
    runs = {str(k): dict(v or {}) for k, v in raw["runs"].items()}
    for name, run in runs.items():
        src = run.get("init_from")
        if src is not None and (src not in runs or list(runs).index(src) >= list(runs).index(
                name)):
            raise ValueError(f"{path}: run {name!r} starts from {src!r}, which is not an "
                             "earlier run")
    comparisons = [dict(c) for c in raw["comparisons"]]
    for c in comparisons:
        for side in ("better", "worse"):
            if side not in c or c[side].split(":", 1)[0] not in runs:
                raise ValueError(f"{path}: comparison {c} needs '{side}: RUN[:METRIC]' naming "
                                 f"one of the runs {list(runs)}")
    return Claim(name=path.stem, claim=str(raw["claim"]), paper=str(raw.get("paper", "")),
                 base=[str(x) for x in raw.get("base", [])], seeds=int(raw.get("seeds", 3)),
                 metric=str(raw.get("metric", "mpjpe")), runs=runs, comparisons=comparisons)


def _evaluators() -> dict[str, Callable[..., dict[str, float]]]:
    """Extra evaluations a claim's run may ask for (`evaluate: NAME`): `(cfg, ckpt) -> metrics`."""
    from liftbench.bench.fusion_jdr import fusion_jdr

    return {"fusion_jdr": fusion_jdr}


def _checkpoint(out: Path, record: Path) -> Path:
    from liftbench.leaderboard.records import read_record

    return out / "runs" / read_record(record).run_id / "checkpoints" / "best.ckpt"


def evaluation_path(out: Path, record: Path) -> Path:
    """Where a run's extra evaluation is kept (beside, not among, the records)."""
    return out / "evaluations" / record.parent.name / record.name


def run_claim(claim: Claim, out: Path, seeds: Sequence[int], overrides: Sequence[str] = (),
              reuse: bool = False,
              fit: Callable[..., Path | None] | None = None) -> dict[tuple[str, int], Path]:
    """Every run of the claim for every seed; returns `{(run, seed): record path}`.

    A run with `evaluate: NAME` is also measured by that evaluator after its fit (once; kept
    in `OUT/evaluations/<run>/`), and its metrics join the record's in the comparisons.
    """
    from liftbench.bench.config import compose
    from liftbench.leaderboard.records import read_record

    if fit is None:
        from liftbench.bench.runner import run_fit as fit
    records: dict[tuple[str, int], Path] = {}
    plan = [(seed, name) for seed in seeds for name in claim.runs]
    for k, (seed, name) in enumerate(plan, 1):
        run = claim.runs[name]
        results = out / "results" / name
        extra = []
        if run.get("init_from"):
            src = records[(run["init_from"], seed)]
            extra.append(f"init_from={_checkpoint(out, src)}")
        cfg = compose([*claim.base, f"output_dir={out / 'runs'}", f"results_dir={results}",
                       f"run_name={claim.name}-{name}-s{seed}", f"seed={seed}",
                       *[str(x) for x in run.get("overrides", [])], *extra, *overrides])
        done = [p for p in sorted(results.glob("*.json")) if read_record(p).seed == seed] \
            if reuse and results.is_dir() else []
        if done:
            records[(name, seed)] = done[-1]
            print(f"[{k}/{len(plan)}] {claim.name}: {name}, seed {seed}: reused", flush=True)
        else:
            print(f"\n[{k}/{len(plan)}] {claim.name}: {name}, seed {seed}", flush=True)
            started = time.time()
            path = fit(cfg)
            if path is None:
                raise RuntimeError(f"{claim.name}: run {name} (seed {seed}) wrote no record")
            records[(name, seed)] = Path(path)
            print(f"{claim.name}: {name}, seed {seed}: {time.time() - started:.0f} s", flush=True)
        if run.get("evaluate"):
            target = evaluation_path(out, records[(name, seed)])
            if not target.is_file():
                evaluators = _evaluators()
                if run["evaluate"] not in evaluators:
                    raise ValueError(f"{claim.name}: run {name} asks for evaluation "
                                     f"{run['evaluate']!r}; known: {sorted(evaluators)}")
                metrics = evaluators[run["evaluate"]](cfg, _checkpoint(out, records[(name,
                                                                                      seed)]))
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(metrics, indent=1))
    return records


def run_metrics(record: Path) -> dict[str, float]:
    """A run's record metrics plus its extra evaluation's (see `run_claim`)."""
    from liftbench.leaderboard.records import read_record

    metrics = dict(read_record(record).metrics)
    extra = evaluation_path(record.parent.parent.parent, record)
    if extra.is_file():
        metrics.update(json.loads(extra.read_text()))
    return metrics


def _value(metrics: dict[str, float], metric: str) -> float:
    if "{last}" in metric:
        ks = [int(m.group(1)) for key in metrics if (m := _ITER.match(key))]
        if not ks:
            return math.nan
        metric = metric.replace("{last}", str(max(ks)))
    return float(metrics.get(metric, math.nan))


def side_values(claim: Claim, side: str, records: dict[tuple[str, int], Path],
                seeds: Sequence[int]) -> dict[int, float]:
    """`{seed: value}` of one side of a comparison (`RUN` or `RUN:METRIC`)."""
    run, _, metric = side.partition(":")
    metric = metric or claim.metric
    return {s: _value(run_metrics(records[(run, s)]), metric) for s in seeds
            if (run, s) in records}


def paired_one_sided(better: dict[int, float], worse: dict[int, float]) -> dict[str, Any]:
    """One-sided paired t-test of `better < worse` over the shared seeds, and the mean gain.

    Returns `{"n", "better", "worse" (means), "gain" (mean of worse − better), "ci" (95% t
    interval of the gain), "p"}`; `p` is NaN with fewer than 2 pairs or identical pairs.
    """
    from scipy import stats

    seeds = sorted(s for s in set(better) & set(worse)
                   if math.isfinite(better[s]) and math.isfinite(worse[s]))
    a = np.array([better[s] for s in seeds])
    b = np.array([worse[s] for s in seeds])
    d = b - a
    out: dict[str, Any] = {"n": len(seeds), "seeds": seeds,
                           "better": float(a.mean()) if len(a) else math.nan,
                           "worse": float(b.mean()) if len(b) else math.nan,
                           "gain": float(d.mean()) if len(d) else math.nan,
                           "ci": [math.nan, math.nan], "p": math.nan}
    if len(d) >= 2 and np.ptp(d) > 0:
        out["p"] = float(stats.ttest_rel(a, b, alternative="less").pvalue)
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
        out["ci"] = [float(d.mean() - half), float(d.mean() + half)]
    elif len(d) >= 2:
        out["p"] = 0.0 if d[0] > 0 else 1.0  # identical gains: certain, in its direction
    return out


def summarise(claim: Claim, records: dict[tuple[str, int], Path], seeds: Sequence[int],
              alpha: float = 0.05) -> dict[str, Any]:
    """Per-run means and the comparisons' tests; `reproduced` when all pass."""
    rows = {}
    for name in claim.runs:
        per_seed = {s: run_metrics(records[(name, s)]) for s in seeds if (name, s) in records}
        keys = sorted({claim.metric, "pa_mpjpe", "mpjpe"} & set().union(*per_seed.values()))
        rows[name] = {k: _mean_ci([m.get(k, math.nan) for m in per_seed.values()]) for k in keys}
    tests = []
    for c in claim.comparisons:
        res = paired_one_sided(side_values(claim, c["better"], records, seeds),
                               side_values(claim, c["worse"], records, seeds))
        res.update(better_side=c["better"], worse_side=c["worse"],
                   metric=claim.metric, holds=bool(res["p"] < alpha and res["gain"] > 0))
        tests.append(res)
    return {"claim": claim.name, "statement": claim.claim, "paper": claim.paper,
            "seeds": list(seeds), "runs": rows, "comparisons": tests, "alpha": alpha,
            "reproduced": bool(tests) and all(t["holds"] for t in tests)}


def _mean_ci(values: Sequence[float]) -> list[float]:
    from scipy import stats

    v = np.array([x for x in values if math.isfinite(x)])
    if len(v) == 0:
        return [math.nan, math.nan]
    if len(v) == 1:
        return [float(v[0]), math.nan]
    return [float(v.mean()), float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1)
                                   / math.sqrt(len(v)))]


def render(summary: dict[str, Any]) -> str:
    """The summary as markdown: per-run means ± 95% CI, then each comparison's test."""
    lines = [f"## {summary['claim']}: {summary['statement']}",
             f"{summary['paper']}; seeds {summary['seeds']}", ""]
    keys = sorted({k for r in summary["runs"].values() for k in r})
    lines += ["| run | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, row in summary["runs"].items():
        cells = []
        for k in keys:
            m, h = row.get(k, [math.nan, math.nan])
            cells.append(f"{m:.1f}" + (f" ± {h:.1f}" if math.isfinite(h) else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| better | worse | better | worse | gain [95% CI] | p (one-sided paired t) "
              "| holds |", "|---|---|---|---|---|---|---|"]
    for t in summary["comparisons"]:
        lo, hi = t["ci"]
        lines.append(f"| {t['better_side']} | {t['worse_side']} | {t['better']:.2f} | "
                     f"{t['worse']:.2f} | {t['gain']:+.2f} [{lo:+.2f}, {hi:+.2f}] | "
                     f"{t['p']:.3g} | {'yes' if t['holds'] else 'no'} |")
    verdict = "REPRODUCED" if summary["reproduced"] else "NOT REPRODUCED"
    lines += ["", f"**{verdict}** (every comparison needs p < {summary['alpha']} and a positive "
              "gain)"]
    return "\n".join(lines)


def write_summary(summary: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """`OUT/<claim>.json` and `OUT/<claim>.md`."""
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / f"{summary['claim']}.json", out / f"{summary['claim']}.md"
    js.write_text(json.dumps(summary, indent=1, default=float))
    md.write_text(render(summary) + "\n")
    return js, md
