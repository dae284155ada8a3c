"""The table of `liftbench reproduce zoo` (`bench.zoo`): one row per lifter and setting.

A row: trainable parameters and forward GFLOPs per frame of the lifter as trained (tiny), MPJPE
and PA-MPJPE (mm) as mean ± half-width of the 95% percentile-bootstrap CI over seeds
(`leaderboard.stats.bootstrap_ci`, as `liftbench table` shows them), the ratio of its mean MPJPE
to `copy_2d`'s on the same test sets and seeds (`bench.reproduce.gate`), the training
CPU-minutes (mean over seeds of the record's `extra.train.cpu_s`: process CPU time of
`trainer.fit`, validation included, test pass excluded), the number of seeds, and a flag:
`under-trained` when the ratio is above `leaderboard.gate.UNDER_TRAINED` (0.6), `failed` when a
seed's run failed, `other test set` when the lifter's overrides changed the test clips. Rows are
sorted by MPJPE.

FLOPs per frame are `liftbench models --size tiny`'s (cached; `bench.commands.models.describe`)
when the lifter trained in its registered tiny configuration; a lifter rebuilt for the clip
length (a tiny MotionAGFormer or P-STMO built for T = 9, trained on T = 27) or given
`model.kwargs` is counted the same way (one forward at B = 1 over its `max_frames`, else the
clip length, divided by T; meta device, a real CPU forward when the meta device cannot run it)
in its trained configuration.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from liftbench.bench.zoo import Zoo, ZooRuns, setting_claim, training_overrides
from liftbench.leaderboard.gate import BASELINE, UNDER_TRAINED

METRICS = ("mpjpe", "pa_mpjpe")
COLUMNS = ("setting", "rank", "lifter", "params", "gflops_per_frame", "mpjpe", "mpjpe_ci_low",
           "mpjpe_ci_high", "pa_mpjpe", "pa_mpjpe_ci_low", "pa_mpjpe_ci_high", "copy_2d_ratio",
           "train_cpu_min", "n", "flag")


def lifter_figures(name: str, kwargs: dict[str, Any], frames: int | None) -> dict[str, Any]:
    """`{"params", "flops_per_frame"}` of lifter `name` (tiny) as trained on clips of `frames`."""
    import torch

    from liftbench.bench.commands.models import DEFAULT_FRAMES, describe, meta_device
    from liftbench.bench.perf.models import flops_per_frame
    from liftbench.bench.regimes.base import build_lifter_for
    from liftbench.models import create_lifter

    with meta_device():
        trained = build_lifter_for(name, "tiny", dict(kwargs), frames)
        registered = create_lifter(name, size="tiny")
    built = getattr(trained, "max_frames", None)
    if not kwargs and built == getattr(registered, "max_frames", None):
        found = describe(name, "tiny", real_forward=True)
        return {"params": found["params"], "flops_per_frame": found["flops_per_frame"]}
    t = built or frames or DEFAULT_FRAMES
    params = sum(p.numel() for p in trained.parameters() if p.requires_grad)
    try:
        flops = flops_per_frame(trained, t, device="meta")
    except Exception:  # noqa: BLE001  a step that needs values (`.item()`, a generator)
        torch.manual_seed(0)
        flops = flops_per_frame(build_lifter_for(name, "tiny", dict(kwargs), frames), t)
    return {"params": params, "flops_per_frame": flops}


def _ci(values: Sequence[float]) -> dict[str, Any]:
    from liftbench.leaderboard.stats import bootstrap_ci

    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "n": 0}
    mean, low, high = bootstrap_ci(finite)
    return {"mean": mean, "low": low, "high": high, "n": len(finite)}


def _row(zoo: Zoo, setting: str, lifter: str, runs: ZooRuns, seeds: Sequence[int],
         gate: dict[str, Any], main_sets: dict[int, str]) -> dict[str, Any]:
    from liftbench.bench.reproduce import evaluation_set
    from liftbench.leaderboard.records import read_record

    paths = {s: runs.records[(setting, lifter, s)] for s in seeds
             if (setting, lifter, s) in runs.records}
    recs = {s: read_record(p) for s, p in paths.items()}
    row: dict[str, Any] = {"lifter": lifter, "seeds": sorted(recs), "records": {
        s: str(p) for s, p in paths.items()}}
    for m in METRICS:
        row[m] = {**_ci([r.metrics.get(m, math.nan) for r in recs.values()]),
                  "per_seed": {s: r.metrics.get(m) for s, r in recs.items()}}
    cpu = [r.extra["train"]["cpu_s"] / 60 for r in recs.values()
           if "cpu_s" in (r.extra.get("train") or {})]
    train = [r.extra.get("train") or {} for r in recs.values()]
    row.update(copy_2d_ratio=gate["ratio"], ratio_metric=gate["metric"],
               ratio_per_seed=gate["per_seed"], under_trained=gate["under_trained"],
               train_cpu_min=sum(cpu) / len(cpu) if cpu else None,
               train_steps=[t.get("steps") for t in train],
               threads=sorted({t["threads"] for t in train if "threads" in t}),
               wall_s=sum(r.wall_time_s or 0.0 for r in recs.values()),
               failed={s: msg for (st, lf, s), msg in runs.failed.items()
                       if st == setting and lf == lifter},
               hypotheses=next((r.protocol["hypotheses"] for r in recs.values()
                                if r.protocol.get("hypotheses")), None),
               other_test_set=any(main_sets.get(s) not in (None, evaluation_set(p))
                                  for s, p in paths.items()),
               regime=next((r.regime.get("name") for r in recs.values()), None),
               training=training_overrides(zoo, zoo.settings[setting], lifter))
    row["params"] = row["gflops_per_frame"] = None
    if recs:
        first = next(iter(recs.values()))
        figures = lifter_figures(lifter, (first.config.get("model") or {}).get("kwargs") or {},
                                 first.protocol.get("frames"))
        flops = figures["flops_per_frame"]
        row.update(params=figures["params"], gflops_per_frame=None if flops is None
                   else flops / 1e9)
    flags = []
    if row["under_trained"] and lifter != BASELINE:
        # a lifter with nothing to train is not "under-trained", only that bad
        flags.append("under-trained" if row["params"] else f"> {UNDER_TRAINED:g}× {BASELINE}")
    if row["failed"]:
        flags.append(f"failed (seed {', '.join(map(str, sorted(row['failed'])))})")
    if row["other_test_set"]:
        flags.append("other test set")
    row["flag"] = "; ".join(flags)
    return row


def summarise_zoo(zoo: Zoo, runs: ZooRuns, seeds: Sequence[int],
                  lifters: Sequence[str]) -> dict[str, Any]:
    """Per setting, one row per lifter (sorted by MPJPE; lifters without a record last)."""
    from liftbench.bench.reproduce import evaluation_set, gate

    settings = {}
    for name, setting in zoo.settings.items():
        claim = setting_claim(zoo, setting, lifters)
        records = {(lf, s): p for (st, lf, s), p in runs.records.items() if st == name}
        main = {s: evaluation_set(p) for (lf, s), p in records.items() if lf == BASELINE}
        rows = [_row(zoo, name, lf, runs, seeds, gate(claim, lf, records, seeds), main)
                for lf in lifters]
        rows.sort(key=lambda r: (not math.isfinite(r["mpjpe"]["mean"]), r["mpjpe"]["mean"]))
        for rank, row in enumerate(rows, 1):
            row["rank"] = rank
        settings[name] = {"label": setting.label, "description": setting.description,
                          "base": setting.base, "rows": rows}
    return {"name": zoo.name, "title": zoo.title, "seeds": list(seeds), "lifters": list(lifters),
            "settings": settings, "gate_threshold": UNDER_TRAINED,
            "runs": {"ran": runs.ran, "reused": runs.reused, "failed": len(runs.failed)},
            "run_wall_s": sum(r["wall_s"] for st in settings.values() for r in st["rows"]),
            "seconds": runs.seconds}


def _num(cell: dict[str, Any]) -> str:
    if not math.isfinite(cell["mean"]):
        return "–"
    half = (cell["high"] - cell["low"]) / 2
    return f"{cell['mean']:.1f}" + (f" ± {half:.1f}" if cell["n"] > 1 and half > 0 else "")


def _gflops(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def duration(seconds: float) -> str:
    """`42 s`, `3.5 min` or `2 h 05 min`."""
    minutes = seconds / 60
    return f"{seconds:.0f} s" if minutes < 1 else (
        f"{minutes:.1f} min" if minutes < 60 else f"{int(minutes // 60)} h {minutes % 60:.0f} min")


def render_tables(summary: dict[str, Any]) -> str:
    """The tables as markdown, one section per setting."""
    lines = []
    for setting in summary["settings"].values():
        lines += [f"### {setting['label']}", "",
                  f"{setting['description']} (`{' '.join(setting['base'])}`)".lstrip(), "",
                  "| # | lifter | params | GFLOPs/frame | MPJPE ↓ | PA-MPJPE ↓ | × copy_2d "
                  "| train CPU-min | n | flag |", "|---" * 10 + "|"]
        for r in setting["rows"]:
            ratio = "–" if not math.isfinite(r["copy_2d_ratio"]) else f"{r['copy_2d_ratio']:.2f}×"
            minutes = r["train_cpu_min"]
            cpu = "–" if minutes is None else f"{minutes:.{2 if minutes < 1 else 1}f}"
            params = "–" if r["params"] is None else f"{r['params']:,}"
            lines.append(f"| {r['rank']} | {r['lifter']} | {params} | "
                         f"{_gflops(r['gflops_per_frame'])} | {_num(r['mpjpe'])} | "
                         f"{_num(r['pa_mpjpe'])} | {ratio} | {cpu} | {r['mpjpe']['n']} | "
                         f"{r['flag']} |")
        lines.append("")
    return "\n".join(lines).rstrip()


def notes(summary: dict[str, Any]) -> list[str]:
    """What a reader needs to read the table right, the command's wall time included."""
    rows = [r for s in summary["settings"].values() for r in s["rows"]]
    threads = sorted({t for r in rows for t in r["threads"]})
    hyp = sorted({f"{r['lifter']} ({r['hypotheses']})" for r in rows if r["hypotheses"]})
    runs = summary["runs"]
    out = [
        f"Cells: mean over seeds {summary['seeds']} ± half-width of the 95% percentile-bootstrap "
        "CI over seeds; mm; n = seeds with a record. Rows sorted by MPJPE.",
        f"× {BASELINE}: the row's mean MPJPE / that of {BASELINE} (the detected 2D with zero "
        "depth) on the same test sets and seeds; under-trained: above "
        f"{summary['gate_threshold']:g}×, its rank says nothing about the architecture.",
        "params: trainable parameters of the lifter as trained (size=tiny, rebuilt for T = 27 "
        "where built for fewer frames); GFLOPs/frame: forward FLOPs at B = 1 over its T / T "
        "(mm, bmm, addmm, conv; as `liftbench models --size tiny --flops`).",
        "train CPU-min: process CPU time (all threads) of `trainer.fit` (training steps and "
        "validation, not the test pass), mean over seeds"
        + (f"; torch threads: {', '.join(map(str, threads))}" if threads else "")
        + ". Lifters without trainable parameters (the trivial baselines) train nothing (–).",
        "Each lifter trains in its own regime (`Lifter.default_regime`) with the budget of the "
        "leaderboard file's `training` entries (experiment/claims/zoo.yaml).",
    ]
    if hyp:
        out.append("Multi-hypothesis lifters, scored on their aggregated pose: " + ", ".join(hyp)
                   + ".")
    out.append(f"Total wall time of the command: {duration(summary['seconds'])} "
               f"({runs['ran']} runs, {runs['reused']} reused, {runs['failed']} failed); sum of "
               f"the tabled runs' own wall times: {duration(summary['run_wall_s'])}.")
    return out


def render_zoo(summary: dict[str, Any]) -> str:
    """The whole table as markdown: title, command, tables, notes."""
    head = [f"## {summary['title']}", ""]
    if summary.get("command"):
        head += [f"`{summary['command']}`", ""]
    return "\n".join([*head, render_tables(summary), "",
                      *[f"- {n}" for n in notes(summary)]])


def csv_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """The rows of `COLUMNS` (numbers unrounded)."""
    out = []
    for setting in summary["settings"].values():
        for r in setting["rows"]:
            ratio = r["copy_2d_ratio"]
            out.append([setting["label"], r["rank"], r["lifter"], r["params"],
                        r["gflops_per_frame"],
                        *[x for m in METRICS for x in (r[m]["mean"], r[m]["low"], r[m]["high"])],
                        ratio if math.isfinite(ratio) else None, r["train_cpu_min"],
                        r["mpjpe"]["n"], r["flag"]])
    return out


def write_zoo(summary: dict[str, Any], out: Path, publish: bool = True,
              tables_dir: Path | None = None) -> list[Path]:
    """`OUT/<name>.md` and `.json`, and (`publish`) the published `<name>.{md,csv}`.

    Published under `tables_dir`, else `leaderboard.published.tables_dir()` (`results/tables`).
    """
    from liftbench.leaderboard.published import publish_table

    out.mkdir(parents=True, exist_ok=True)
    md, js = out / f"{summary['name']}.md", out / f"{summary['name']}.json"
    md.write_text(render_zoo(summary) + "\n")
    js.write_text(json.dumps(summary, indent=1, default=float))
    paths = [md, js]
    if publish:
        paths += publish_table(summary["name"], summary["title"], COLUMNS, csv_rows(summary),
                               markdown=render_tables(summary), notes=notes(summary),
                               command=summary.get("command"), out_dir=tables_dir)
    return paths
