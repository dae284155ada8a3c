"""`liftbench reproduce CLAIM`: one command per paper claim, over seeds, with a paired test.

A claim is a YAML file under `experiment/claims/` of a config folder (`list_claims()`; the
user's `--config-dir` folders first, then the packaged `bench/configs/`):

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
cannot go below 2^-n (0.125 for 3 seeds), so the t-test is the one that can reach p < 0.05.

Every comparison is gated by the trivial baseline `copy_2d` (the detected 2D with zero depth;
no parameters, so its "fit" only fits statistics and tests): for each distinct test set of the
claim's runs (a record's `protocol.cache_key`: data config, split, T and data seed) one
`copy_2d` run on the same data overrides lands in `OUT/results/copy_2d`. A run's *ratio* is its
mean metric over seeds divided by `copy_2d`'s on the same test sets (paired by seed); the
metric is the comparison side's when `copy_2d` has it, else the claim's `metric`, else `mpjpe`
(the output names it). A comparison any of whose runs has a ratio above `GATE` (0.6) is
*inconclusive (under-trained)*: models that barely beat copying their input say nothing about
the methods compared. The verdict is "reproduced" when every comparison passes the gate, has
p < `alpha` and a positive mean gain; "not reproduced" when a comparison that passes the gate
fails the test; else "inconclusive". `copy_2d`'s error depends on the seed (the synthetic
capture draws its bodies, rigs and split from it), hence one run per seed.

Runs land in `OUT/runs`, records in `OUT/results/<run>`; `--reuse` skips a (run, seed) whose
record of the same configuration (`config_hash`: seed and paths aside) is already there (and a
`copy_2d` run whose test set is), so an interrupted reproduction continues where it stopped,
and an edited claim file or override reruns the runs it changed (and those started from them:
a rerun parent gives its children another `init_from`).
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
from omegaconf import DictConfig, OmegaConf

from liftbench.leaderboard.gate import BASELINE, UNDER_TRAINED

CLAIMS = ("experiment", "claims")  # below every config folder (`--config-dir`, packaged)
_ITER = re.compile(r"^iter(\d+)/")
# the gate's trivial baseline (also its results folder's name); a comparison is under-trained
# when one of its runs' metric > GATE x copy_2d's on the same test set and seed
GATE = UNDER_TRAINED
# override keys that do not define the test set: the baseline run drops them (and uses
# `model=copy_2d regime=supervised`, which evaluates single- and multi-view test sets alike)
_MODEL_KEYS = ("model", "size", "lifter", "regime", "init_from", "ckpt_path")


def list_claims() -> list[str]:
    """Names of the claims in the config folders (the user's first, then the packaged ones)."""
    from liftbench.bench.config import config_files

    return list(config_files(*CLAIMS))


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
    from liftbench.bench.config import config_dirs, find_config

    path = Path(name_or_path)
    if not path.suffix:
        path = find_config(*CLAIMS, f"{name_or_path}.yaml") or path
    if not path.is_file():
        searched = ", ".join(str(d.joinpath(*CLAIMS)) for d in config_dirs())
        raise ValueError(f"unknown claim {name_or_path!r}; available: "
                         f"{', '.join(list_claims())} (searched: {searched})")
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
    if BASELINE in runs:
        raise ValueError(f"{path}: the run name {BASELINE!r} is reserved for the automatic "
                         "baseline of every claim; rename the run")
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

    rec = read_record(record)
    if rec.checkpoint:
        return Path(rec.checkpoint)
    return out / "runs" / rec.run_id / "checkpoints" / "best.ckpt"  # records before the field


def evaluation_path(out: Path, record: Path) -> Path:
    """Where a run's extra evaluation is kept (beside, not among, the records)."""
    return out / "evaluations" / record.parent.name / record.name


def baseline_overrides(claim: Claim, run: str, overrides: Sequence[str] = ()) -> list[str]:
    """The overrides of the `copy_2d` run on the test set of `run`.

    The claim's base, the run's and the user's overrides without those of the model, the regime
    and the starting checkpoint (`_MODEL_KEYS`), then `model=copy_2d regime=supervised`.
    """
    keep = [str(o) for o in (*claim.base, *claim.runs[run].get("overrides", []), *overrides)
            if str(o).split("=", 1)[0].lstrip("+~").split(".", 1)[0] not in _MODEL_KEYS]
    return [*keep, f"model={BASELINE}", "regime=supervised"]


def evaluation_set(record: Path) -> str:
    """What identifies a record's test clips.

    Its `protocol.cache_key` (data config, split, T, data seed), or, for data without a clip
    cache, its protocol and seed as JSON.
    """
    from liftbench.leaderboard.records import read_record

    rec = read_record(record)
    key = rec.protocol.get("cache_key")
    if key:
        return str(key)
    proto = {k: v for k, v in rec.protocol.items() if k != "train_on"}
    return json.dumps({"protocol": proto, "seed": rec.seed}, sort_keys=True, default=str)


def baseline_records(out: Path) -> dict[str, Path]:
    """`{test set: record}` of the `copy_2d` runs in `OUT/results/copy_2d` (`evaluation_set`)."""
    folder = out / "results" / BASELINE
    return {evaluation_set(p): p for p in sorted(folder.glob("*.json"))} if folder.is_dir() \
        else {}


def finished(results: Path, seed: int, cfg: DictConfig) -> Path | None:
    """The newest record in `results` of `seed` with `cfg`'s configuration, else None."""
    from liftbench.bench.config import config_hash
    from liftbench.leaderboard.records import read_record

    if not results.is_dir():
        return None
    want = config_hash(cfg)
    found = [p for p in sorted(results.glob("*.json"))
             if (r := read_record(p)).seed == seed and r.config_hash == want]
    return found[-1] if found else None


def run_claim(claim: Claim, out: Path, seeds: Sequence[int], overrides: Sequence[str] = (),
              reuse: bool = False,
              fit: Callable[..., Path | None] | None = None) -> dict[tuple[str, int], Path]:
    """Every run of the claim for every seed; returns `{(run, seed): record path}`.

    A run with `evaluate: NAME` is also measured by that evaluator after its fit (once; kept
    in `OUT/evaluations/<run>/`), and its metrics join the record's in the comparisons. After
    a run whose test set (`evaluation_set`) no `copy_2d` run has measured yet, `copy_2d` is run
    on it (`baseline_overrides`; records in `OUT/results/copy_2d`, found by `baseline_records`).
    """
    from liftbench.bench.config import compose
    from liftbench.leaderboard.records import read_record

    if fit is None:
        from liftbench.bench.runner import run_fit as fit
    records: dict[tuple[str, int], Path] = {}
    baselines = baseline_records(out) if reuse else {}
    tried: set[str] = set()  # test sets a copy_2d run was started for
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
        done = finished(results, seed, cfg) if reuse else None
        if done is not None:
            records[(name, seed)] = done
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
        key = evaluation_set(records[(name, seed)])
        if key not in baselines and key not in tried:
            tried.add(key)
            served = {read_record(p).seed for p in baselines.values()}
            tag = f"-s{seed}" if seed not in served else f"-s{seed}-{name}"
            print(f"\n[{k}/{len(plan)}] {claim.name}: {BASELINE} on the test set of {name}, "
                  f"seed {seed}", flush=True)
            started = time.time()
            path = fit(compose([*baseline_overrides(claim, name, overrides),
                                f"output_dir={out / 'runs'}",
                                f"results_dir={out / 'results' / BASELINE}",
                                f"run_name={claim.name}-{BASELINE}{tag}", f"seed={seed}"]))
            if path is None:
                raise RuntimeError(f"{claim.name}: {BASELINE} (seed {seed}) wrote no record")
            baselines[evaluation_set(Path(path))] = Path(path)
            print(f"{claim.name}: {BASELINE}, seed {seed}: {time.time() - started:.0f} s",
                  flush=True)
            if key not in baselines:
                print(f"warning: {claim.name}: the {BASELINE} run {Path(path).name} did not "
                      f"reproduce the test set of {name} (seed {seed}); that run has no gate",
                      flush=True)
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


def gate(claim: Claim, side: str, records: dict[tuple[str, int], Path],
         seeds: Sequence[int]) -> dict[str, Any]:
    """One comparison side's run against `copy_2d` on the same test set and seed.

    The metric is the side's (`RUN:METRIC`, or the claim's `metric`) when `copy_2d` has it,
    else the claim's `metric`, else `mpjpe`.

    Returns:
        `{"run", "metric", "value" (the run's mean over seeds), "copy_2d" (copy_2d's mean on the
        same test sets), "ratio" (value / copy_2d, over the seeds that have both; NaN without
        a copy_2d run), "per_seed" ({seed: ratio}), "under_trained" (ratio > GATE)}`.
    """
    run, _, metric = side.partition(":")
    chosen: str | None = None
    mine, base, ratios = [], [], {}
    indexes: dict[Path, dict[str, Path]] = {}
    for s in seeds:
        if (run, s) not in records:
            continue
        record = records[(run, s)]
        out = record.parent.parent.parent
        if out not in indexes:
            indexes[out] = baseline_records(out)
        found = indexes[out].get(evaluation_set(record))
        if found is None:
            continue
        a, b = run_metrics(record), run_metrics(found)
        if chosen is None:
            chosen = next((m for m in (metric or claim.metric, claim.metric, "mpjpe")
                           if math.isfinite(_value(a, m)) and math.isfinite(_value(b, m))),
                          None)
            if chosen is None:
                continue
        va, vb = _value(a, chosen), _value(b, chosen)
        if math.isfinite(va) and math.isfinite(vb) and vb > 0:
            mine.append(va)
            base.append(vb)
            ratios[s] = va / vb
    ratio = float(np.mean(mine) / np.mean(base)) if ratios else math.nan
    return {"run": run, "metric": chosen or (metric or claim.metric),
            "value": float(np.mean(mine)) if mine else math.nan,
            "copy_2d": float(np.mean(base)) if base else math.nan, "ratio": ratio,
            "per_seed": ratios, "under_trained": bool(ratio > GATE)}


def summarise(claim: Claim, records: dict[tuple[str, int], Path], seeds: Sequence[int],
              alpha: float = 0.05) -> dict[str, Any]:
    """Per-run means and gates, the comparisons' tests and gates, and the verdict.

    `verdict` is "reproduced" when every comparison passes the gate (`gate`) and its test;
    "not reproduced" when a comparison that passes the gate fails its test; else "inconclusive
    (under-trained)" (or "inconclusive (no copy_2d)" when a run has no `copy_2d` on its test
    set). `reproduced` is `verdict == "reproduced"`.
    """
    rows, gates = {}, {}
    for name in claim.runs:
        per_seed = {s: run_metrics(records[(name, s)]) for s in seeds if (name, s) in records}
        keys = sorted({claim.metric, "pa_mpjpe", "mpjpe"} & set().union(*per_seed.values()))
        rows[name] = {k: _mean_ci([m.get(k, math.nan) for m in per_seed.values()]) for k in keys}
        gates[name] = gate(claim, name, records, seeds)
    tests = []
    for c in claim.comparisons:
        res = paired_one_sided(side_values(claim, c["better"], records, seeds),
                               side_values(claim, c["worse"], records, seeds))
        sides = [gate(claim, c[k], records, seeds) for k in ("better", "worse")]
        inconclusive = ("under-trained" if any(g["under_trained"] for g in sides) else
                        f"no {BASELINE}" if any(not math.isfinite(g["ratio"]) for g in sides)
                        else None)
        res.update(better_side=c["better"], worse_side=c["worse"],
                   metric=claim.metric, holds=bool(res["p"] < alpha and res["gain"] > 0),
                   gate=sides, inconclusive=inconclusive)
        tests.append(res)
    if any(not t["holds"] and not t["inconclusive"] for t in tests) or not tests:
        verdict = "not reproduced"
    else:
        reasons = sorted({t["inconclusive"] for t in tests if t["inconclusive"]})
        verdict = f"inconclusive ({', '.join(reasons)})" if reasons else "reproduced"
    return {"claim": claim.name, "statement": claim.claim, "paper": claim.paper,
            "seeds": list(seeds), "runs": rows, "gates": gates, "gate_threshold": GATE,
            "comparisons": tests, "alpha": alpha, "verdict": verdict,
            "reproduced": verdict == "reproduced"}


def _mean_ci(values: Sequence[float]) -> list[float]:
    from scipy import stats

    v = np.array([x for x in values if math.isfinite(x)])
    if len(v) == 0:
        return [math.nan, math.nan]
    if len(v) == 1:
        return [float(v[0]), math.nan]
    return [float(v.mean()), float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1)
                                   / math.sqrt(len(v)))]


def _ratio(g: dict[str, Any]) -> str:
    """A gate's ratio as the tables show it: `0.94×`, flagged when under-trained."""
    if not math.isfinite(g["ratio"]):
        return f"– (no {BASELINE})"
    return f"{g['ratio']:.2f}×" + (" under-trained" if g["under_trained"] else "")


def render(summary: dict[str, Any]) -> str:
    """The summary as markdown.

    Per-run means ± 95% CI and ratio to `copy_2d`, then each comparison's test and gate, then
    the verdict.
    """
    lines = [f"## {summary['claim']}: {summary['statement']}",
             f"{summary['paper']}; seeds {summary['seeds']}", ""]
    keys = sorted({k for r in summary["runs"].values() for k in r})
    gates = summary.get("gates", {})
    lines += ["| run | " + " | ".join(keys) + f" | {BASELINE} (same test sets) | × {BASELINE} |",
              "|---" * (len(keys) + 3) + "|"]
    for name, row in summary["runs"].items():
        cells = []
        for k in keys:
            m, h = row.get(k, [math.nan, math.nan])
            cells.append(f"{m:.1f}" + (f" ± {h:.1f}" if math.isfinite(h) else ""))
        g = gates.get(name)
        cells += [f"{g['copy_2d']:.1f} ({g['metric']})", _ratio(g)] if g else ["–", "–"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| better | worse | better | worse | gain [95% CI] | p (one-sided paired t) "
              f"| × {BASELINE} (better / worse) | holds |", "|---|---|---|---|---|---|---|---|"]
    for t in summary["comparisons"]:
        lo, hi = t["ci"]
        gate_text = " / ".join(_ratio(g) for g in t.get("gate", []))
        metrics = sorted({g["metric"] for g in t.get("gate", [])})
        holds = "yes" if t["holds"] else "no"
        if t.get("inconclusive"):
            holds = f"inconclusive ({t['inconclusive']}; test: {holds})"
        lines.append(f"| {t['better_side']} | {t['worse_side']} | {t['better']:.2f} | "
                     f"{t['worse']:.2f} | {t['gain']:+.2f} [{lo:+.2f}, {hi:+.2f}] | "
                     f"{t['p']:.3g} | {gate_text} ({', '.join(metrics)}) | {holds} |")
    verdict = summary.get("verdict", "reproduced" if summary["reproduced"] else "not reproduced")
    threshold = summary.get("gate_threshold", GATE)
    lines += ["", f"**{verdict.upper()}** (every comparison needs p < {summary['alpha']}, a "
              f"positive gain, and each of its runs at most {threshold:g}× {BASELINE}'s error on "
              "the same test set and seed; × = the run's mean / copy_2d's on the same test sets)"]
    return "\n".join(lines)


def summary_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The summary as CSV rows: one per run, one per comparison, one for the claim.

    Columns: `kind` (`run`, `comparison`, `claim`) and `name`; a run row has each metric's mean
    over seeds and its 95% t half-width (`METRIC`, `METRIC_ci_half`), its gate (`gate_metric`,
    `copy_2d`: copy_2d's mean on the same test sets, `x_copy_2d`: the ratio, `under_trained`);
    a comparison row has `better`, `worse` (sides), their means, `gain` (worse − better) with
    its 95% CI (`gain_ci_low`, `gain_ci_high`), `p` (one-sided paired t), `n` (seeds),
    the sides' gates (`better_x_copy_2d`, `worse_x_copy_2d`), `holds` and `inconclusive`; the
    claim row has the `verdict`. Cells a kind does not have are empty.
    """
    keys = sorted({k for r in summary["runs"].values() for k in r})
    columns = ["kind", "name", *[c for k in keys for c in (k, f"{k}_ci_half")], "gate_metric",
               "copy_2d", "x_copy_2d", "under_trained", "better", "worse", "better_mean",
               "worse_mean", "gain", "gain_ci_low", "gain_ci_high", "p", "n", "better_x_copy_2d",
               "worse_x_copy_2d", "holds", "inconclusive", "verdict"]
    rows: list[list[Any]] = []

    def row(**cells: Any) -> list[Any]:
        unknown = set(cells) - set(columns)
        if unknown:
            raise KeyError(f"not a claim summary column: {sorted(unknown)}")
        return [cells.get(c) for c in columns]

    gates = summary.get("gates", {})
    for name, metrics in summary["runs"].items():
        cells: dict[str, Any] = {}
        for k in keys:
            cells[k], cells[f"{k}_ci_half"] = metrics.get(k, [math.nan, math.nan])
        g = gates.get(name)
        if g:
            cells.update(gate_metric=g["metric"], copy_2d=g["copy_2d"], x_copy_2d=g["ratio"],
                         under_trained=g["under_trained"])
        rows.append(row(kind="run", name=name, **cells))
    for t in summary["comparisons"]:
        ratios = {f"{side}_x_copy_2d": g["ratio"]
                  for side, g in zip(("better", "worse"), t.get("gate", []), strict=False)}
        rows.append(row(kind="comparison", name=f"{t['better_side']} < {t['worse_side']}",
                        better=t["better_side"], worse=t["worse_side"], better_mean=t["better"],
                        worse_mean=t["worse"], gain=t["gain"], gain_ci_low=t["ci"][0],
                        gain_ci_high=t["ci"][1], p=t["p"], n=t["n"], **ratios,
                        holds=t["holds"], inconclusive=t.get("inconclusive")))
    verdict = summary.get("verdict", "reproduced" if summary["reproduced"] else "not reproduced")
    rows.append(row(kind="claim", name=summary["claim"], verdict=verdict))
    return columns, rows


def publish_summary(summary: dict[str, Any], command: str | None = None,
                    out_dir: Path | None = None) -> tuple[Path, Path]:
    """The summary as a published table, `claim-CLAIM.md` (`render`) and `.csv` (`summary_rows`).

    Args:
        summary: `summarise`'s result.
        command: the command line (default: this process's).
        out_dir: the folder (default: `leaderboard.published.tables_dir()`).
    """
    from liftbench.leaderboard.published import publish_table, table_name

    columns, rows = summary_rows(summary)
    overrides = summary.get("overrides") or []
    notes = [f"Runs: mean ± 95% t half-width over seeds {summary['seeds']}; × {BASELINE} = a "
             f"run's mean / {BASELINE}'s on the same test sets (the gate: at most "
             f"{summary.get('gate_threshold', GATE):g}×)."]
    if overrides:
        notes.append(f"Overrides of every run: {' '.join(map(str, overrides))}.")
    return publish_table(table_name(f"claim-{summary['claim']}"),
                         f"Claim {summary['claim']}: {summary['statement']}", columns, rows,
                         markdown=render(summary), notes=notes, command=command,
                         out_dir=out_dir)


def write_summary(summary: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """`OUT/<claim>.json` and `OUT/<claim>.md`."""
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / f"{summary['claim']}.json", out / f"{summary['claim']}.md"
    js.write_text(json.dumps(summary, indent=1, default=float))
    md.write_text(render(summary) + "\n")
    return js, md
