"""`liftbench perf models`: lifter latency, throughput, peak RSS and FLOP rate vs the official code.

With `--official-root DIR` (local checkouts of the official repositories) each official model
is measured the same way, side by side in the same run, and the "vs off." columns divide by
those figures. `--rounds R` alternates the two R times per (model, mode), swapping which goes
first every round (ours, official, official, ours, ...), and reports the median over rounds, so a
machine whose load drifts during the run biases neither side. For MixSTE, KTPFormer, STCFormer,
P-STMO and D3DP the run first checks parity: the official model's weights, loaded into
liftbench's lifter through the official key map, must give the same outputs (max |Δ| ≤
`PARITY_ATOL`), or that model is not timed. D3DP rows time one denoiser evaluation (see
`_official_models.Denoiser`) on both sides, with or without `--official-root`. Without it
there is nothing measured to compare with: the reference figures of the official code (another
machine, another day) are printed in a separate table, labelled as such, and no ratio is
computed from them.

Every (model, mode) measurement runs in a fresh subprocess: in one long-lived process the
allocator state of earlier runs made fwd+bwd timings vary up to 3×. The child
reports the median of `--repeats` timed runs after `--warmup` untimed ones, and its peak RSS
(`ru_maxrss`, which includes the Python + torch baseline, as in the official figures).

Protocol (the official figures' too): input `torch.randn(B, T, 17, 3)`; "fwd" is `eval()` +
`no_grad`; "fwd+bwd" is `train()`, forward, `out.square().mean().backward()`, `zero_grad` outside
the timed region. FLOPs come from `FlopCounterMode` on one forward at B = 1 with SDPA forced to its
MATH backend (so the attention matmuls are counted, as in the official eager attention); fwd+bwd is
counted as 3× forward.

Variants of ours (`--precision fp32 bf16`, `--compile`): every requested precision, eager and,
with `--compile`, compiled too (`bench/compiling.py`: the lifter's repeated layers through
`nn.Module.compile()`, as `trainer.compile` does; the compile happens in the untimed warm-up,
at least one run). bf16 is `torch.autocast("cpu", torch.bfloat16)` around the forward and the
loss, backward outside it: what Lightning's `bf16-mixed` does. The official code always runs
fp32, eager; with `--official-root` each round times the official model once and every variant
of ours once (the order reversed every other round). For every variant other than fp32 eager the
child also reports `deviation`: max |Δ| / max |out| of the variant's eval output against ours in
fp32, eager, on the same input and weights (after the timing and the RSS reading, so neither
includes it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

NAME = "models"
HELP = "lifter fwd / fwd+bwd latency, throughput, peak RSS and GFLOP/s vs the official code"

# fp32 matmul roofline of the project's 2-core CPU, GFLOP/s.
ROOFLINE_GFLOPS = 186.0

# Official implementations on the same 2-core machine kind, measured once
# (median ms of runs 1 and 2; peak RSS MB of run 1 for fwd / fwd+bwd). Key: (model, B, T).
OFFICIAL: dict[tuple[str, int, int], dict[str, tuple[float, ...]]] = {
    ("motionagformer_xs", 1, 27): {"fwd": (32, 40), "fwdbwd": (110, 114), "rss": (757, 899)},
    ("motionagformer_xs", 8, 27): {"fwd": (176, 190), "fwdbwd": (671, 506), "rss": (783, 1829)},
    ("motionagformer_s", 1, 27): {"fwd": (69, 61), "fwdbwd": (231, 208), "rss": (770, 1067)},
    ("motionagformer_s", 8, 27): {"fwd": (361, 356), "fwdbwd": (1287, 1202), "rss": (793, 3182)},
    ("motionagformer_b", 1, 27): {"fwd": (87, 86), "fwdbwd": (281, 275), "rss": (798, 1141)},
    ("motionagformer_b", 8, 27): {"fwd": (757, 781), "fwdbwd": (1793, 1934), "rss": (847, 3628)},
    ("motionagformer_l", 1, 27): {"fwd": (139, 146), "fwdbwd": (474, 494), "rss": (827, 1386)},
    ("motionagformer_l", 8, 27): {"fwd": (1693, 1565), "fwdbwd": (3325, 3182), "rss": (860, 5465)},
    ("motionagformer_b", 1, 243): {"fwd": (1288,), "fwdbwd": (2933,), "rss": (877, 4466)},
    ("motionagformer_b", 8, 243): {"fwd": (14915,), "fwdbwd": (), "rss": (1526,)},
    ("kasportsformer", 1, 27): {"fwd": (273, 247), "fwdbwd": (835, 789), "rss": (874, 1745)},
    ("kasportsformer", 8, 27): {"fwd": (1992, 2476), "fwdbwd": (4587, 4707), "rss": (939, 8297)},
    ("motionbert", 1, 27): {"fwd": (232, 257), "fwdbwd": (656, 736), "rss": (715, 1078)},
    ("motionbert", 8, 27): {"fwd": (1673, 1730), "fwdbwd": (5281, 5529), "rss": (813, 3240)},
    ("motionbert", 1, 243): {"fwd": (2148,), "fwdbwd": (6260,), "rss": (961, 3923)},
    ("motionbert", 8, 243): {"fwd": (25179,), "fwdbwd": (), "rss": (1853,)},
}
OFFICIAL_SOURCE = "official code, 2-vCPU EPYC, torch 2.14.1, fp32"

DEFAULT_MODELS = ("motionagformer_b", "kasportsformer", "motionbert")
PRECISIONS = ("fp32", "bf16")
PARITY_ATOL = 1e-5
LONG_MODELS = ("motionagformer_b", "motionbert")
LONG_AS_LIMIT_GB = 16


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark's options to `parser`."""
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), metavar="NAME")
    parser.add_argument("--batch", type=int, default=8, help="batch size B (default 8)")
    parser.add_argument("--frames", type=int, default=27, help="clip length T (default 27)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (median; default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    parser.add_argument(
        "--modes", nargs="+", choices=("fwd", "fwdbwd"), default=["fwd", "fwdbwd"],
        help="what to time (default: fwd fwdbwd)",
    )  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="with --official-root: alternate ours / official this many times per row, "
        "swapping the order each round, and report the median (default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--size", choices=("paper", "tiny"), default="paper",
        help="model configuration (default: paper; official ratios only make sense for paper)",
    )  # fmt: skip
    parser.add_argument(
        "--official-root", type=str, default=None, metavar="DIR",
        help="folder with the official checkouts (MotionBERT/, MotionAGFormer/, "
        "KASportsFormer/, MixSTE/, KTPFormer/, STCFormer/, P-STMO/, D3DP/): measure them side "
        "by side and report ratios",
    )  # fmt: skip
    parser.add_argument(
        "--precision", nargs="+", choices=PRECISIONS, default=["fp32"],
        help="precisions of ours to measure, each its own row (default fp32; bf16 = autocast "
        "as Lightning's bf16-mixed); the official code runs fp32",
    )  # fmt: skip
    parser.add_argument(
        "--compile", action="store_true",
        help="also measure each precision of ours compiled (the lifter's layers, as "
        "trainer.compile=true)",
    )  # fmt: skip
    parser.add_argument(
        "--long", action="store_true",
        help=f"also B=8, T=243 fwd+bwd of {', '.join(LONG_MODELS)} under a "
        f"{LONG_AS_LIMIT_GB} GB address-space cap (1 warm-up, 1 timed run)",
    )  # fmt: skip


def flops_per_frame(model: torch.nn.Module, frames: int,
                    device: torch.device | str = "cpu") -> float:
    """Forward FLOPs per frame at B = 1 (`FlopCounterMode`; mm/bmm/addmm/conv, SDPA as MATH).

    The counter reads shapes only, so a model built on the meta device (`device="meta"`) gives
    the same count without memory or compute.

    Args:
        model: a lifter taking `(1, frames, J, 3)`, on `device`.
        frames: T.
        device: where the input is made (the model's device).

    Returns:
        Total forward FLOPs divided by T.
    """
    x = torch.randn(1, frames, getattr(model, "num_joints", 17), 3, device=device)
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:
        model.eval()(x)
    return fc.get_total_flops() / frames


def _autocast(precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _build_variant(spec: dict) -> torch.nn.Module:
    """Ours (seed 0) as `spec` asks: its size, T and, with `spec["compile"]`, compiled."""
    from liftbench.bench.compiling import compile_lifter
    from liftbench.bench.perf._official_models import build_ours

    torch.manual_seed(0)
    model = build_ours(spec["model"], spec["frames"], size=spec.get("size", "paper"))
    if spec.get("compile"):
        compile_lifter(model, True)
    return model


def output_deviation(spec: dict) -> float:
    """Eval-output deviation `max |Δ| / max |out|` of a variant vs ours in fp32, eager.

    Both models are built with seed 0 (the same weights); the input is
    `randn(B, T, J, 3)` (seed 1), in eval mode without gradients.
    """
    ref = _build_variant({**spec, "compile": False})
    x = torch.randn(spec["batch"], spec["frames"], ref.num_joints, 3,
                    generator=torch.Generator().manual_seed(1))  # fmt: skip
    with torch.no_grad():
        want = ref.eval()(x).float()
        del ref
        model = _build_variant(spec).eval()
        with _autocast(spec.get("precision", "fp32")):
            got = model(x).float()
    return float((got - want).abs().max() / want.abs().max().clamp_min(1e-12))


def _measure(spec: dict) -> dict:
    """Child process body: build, time and report one (model, mode, B, T) configuration."""
    from liftbench.bench.compiling import compile_lifter
    from liftbench.bench.perf._official_models import build_official, build_ours

    if spec.get("as_limit_gb"):
        limit = int(spec["as_limit_gb"] * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    b, t = spec["batch"], spec["frames"]
    if spec.get("official_root"):
        model = build_official(spec["model"], spec["official_root"], t)
        model.num_joints = 17
    else:
        model = build_ours(spec["model"], t, size=spec.get("size", "paper"))
    x = torch.randn(b, t, model.num_joints, 3)
    flops = flops_per_frame(model, t) * t * b  # before compiling: the counter runs eagerly
    ours = not spec.get("official_root")
    compiled = ours and bool(spec.get("compile"))
    if compiled:
        compile_lifter(model, True)
    precision = spec.get("precision", "fp32") if ours else "fp32"
    warmup = max(spec["warmup"], 1) if compiled else spec["warmup"]
    times = []
    for i in range(warmup + spec["repeats"]):
        if spec["mode"] == "fwd":
            model.eval()
            start = time.perf_counter()
            with torch.no_grad(), _autocast(precision):
                model(x)
        else:
            model.train()
            model.zero_grad(set_to_none=True)
            start = time.perf_counter()
            with _autocast(precision):
                loss = model(x).square().mean()
            loss.backward()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = {
        "ms": 1000 * statistics.median(times), "min_ms": 1000 * min(times), "rss_mb": rss_mb,
        "fwd_flops": flops, "threads": torch.get_num_threads(),
    }  # fmt: skip
    if ours and (precision != "fp32" or compiled):
        del model
        res["deviation"] = output_deviation(spec)
    return res


def _parity(spec: dict) -> dict:
    """Child process body: max |Δ| of liftbench's lifter given the official weights."""
    from liftbench.bench.perf._official_models import check_parity

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    return {"max_abs_diff": check_parity(spec["model"], spec["official_root"], spec["frames"])}


def _child(spec: dict) -> dict:
    """What a child process runs: `_parity` for a parity spec, else `_measure`."""
    return _parity(spec) if spec.get("parity") else _measure(spec)


def _spawn(spec: dict) -> dict:
    """Run `_child(spec)` in a fresh interpreter; failures come back as `{"error": ...}`."""
    code = "import sys, json; from liftbench.bench.perf.models import _child; " \
        "print('RESULT', json.dumps(_child(json.loads(sys.argv[1]))))"  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
    return {"error": tail[:200]}


def _row(spec: dict, res: dict, official: dict | None = None) -> dict:
    """Add throughput, GFLOP/s and % of roofline to one measurement.

    The ratios to the official code are added only when it was measured in the same run
    (`official`, the child's result for the official model).
    """
    row = _lead(spec) | res
    if "error" in res:
        return row
    mult = 3.0 if spec["mode"] == "fwdbwd" else 1.0
    row["samples_per_s"] = spec["batch"] / (res["ms"] / 1000)
    row["gflops"] = mult * res["fwd_flops"] / (res["ms"] / 1000) / 1e9
    row["roofline_pct"] = 100 * row["gflops"] / ROOFLINE_GFLOPS
    if official is not None:
        if "error" in official:
            row["official_error"] = official["error"]
        else:
            row["official_ms"], row["official_rss_mb"] = official["ms"], official["rss_mb"]
            for key in ("round_ms", "round_rss_mb"):
                if key in official:
                    row[f"official_{key}"] = official[key]
            row["speedup_vs_official"] = official["ms"] / res["ms"]
            row["rss_ratio_vs_official"] = res["rss_mb"] / official["rss_mb"]
    return row


def _lead(spec: dict) -> dict:
    """The identity of a row: model, mode, B, T and the variant (precision, compiled)."""
    return {k: spec[k] for k in ("model", "mode", "batch", "frames")} | {
        "precision": spec.get("precision", "fp32"), "compile": bool(spec.get("compile"))}


def variant_name(row: dict) -> str:
    """`fp32`, `bf16`, `fp32+compile`, ..."""
    return row.get("precision", "fp32") + ("+compile" if row.get("compile") else "")


def reference_rows(rows: list[dict]) -> list[dict]:
    """The official figures recorded on another machine (`OFFICIAL`) for the measured rows."""
    out, seen = [], set()
    for r in rows:
        ref = OFFICIAL.get((r["model"], r["batch"], r["frames"]))
        key = (r["model"], r["mode"], r["batch"], r["frames"])
        if ref and key not in seen:
            seen.add(key)
            idx = 0 if r["mode"] == "fwd" else 1
            out.append({k: r[k] for k in ("model", "mode", "batch", "frames")} | {
                "ms": min(ref[r["mode"]]) if ref[r["mode"]] else None,
                "rss_mb": ref["rss"][idx] if len(ref["rss"]) > idx else None})
    return out


def _print(rows: list[dict]) -> None:
    cols = ("median ms", "min ms", "samp/s", "GFLOP/s", "%roof", "RSS MB", "vs off.", "RSS/off",
            "out dev")
    widths = (10, 8, 7, 8, 6, 7, 7, 7, 8)
    head = f"{'model':<18} {'variant':<13} {'mode':<6} {'B':>2} {'T':>4} "
    print(head + " ".join(f"{c:>{w}}" for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        lead = (f"{r['model']:<18} {variant_name(r):<13} {r['mode']:<6} {r['batch']:>2} "
                f"{r['frames']:>4} ")
        if "error" in r:
            print(lead + f"FAILED: {r['error']}")
            continue
        sp = f"{r['speedup_vs_official']:.2f}x" if "speedup_vs_official" in r else "-"
        mr = f"{r['rss_ratio_vs_official']:.2f}" if "rss_ratio_vs_official" in r else "-"
        dev = f"{r['deviation']:.1e}" if "deviation" in r else "-"
        nums = f"{r['ms']:>10.0f} {r['min_ms']:>8.0f} {r['samples_per_s']:>7.1f} "
        nums += f"{r['gflops']:>8.1f} {r['roofline_pct']:>6.1f} {r['rss_mb']:>7.0f} "
        print(lead + nums + f"{sp:>7} {mr:>7} {dev:>8}")
    print(f"roofline {ROOFLINE_GFLOPS:.0f} GFLOP/s (fp32); vs off.: official ms / ours ms; "
          "out dev: max |Δ| / max |out| of the eval output vs ours in fp32, eager")


def _print_reference(refs: list[dict]) -> None:
    if not refs:
        return
    print(f"\nreference figures of the official code, NOT measured here ({OFFICIAL_SOURCE}); "
          "CPU times drift from machine to machine and day to day, so no ratio is computed "
          "(measure side by side with --official-root DIR):")
    for r in refs:
        ms = f"{r['ms']:.0f}" if r["ms"] is not None else "-"
        rss = f"{r['rss_mb']:.0f}" if r["rss_mb"] is not None else "-"
        print(f"  {r['model']:<18} {r['mode']:<6} {r['batch']:>2} {r['frames']:>4} "
              f"{ms:>8} ms  {rss:>6} MB peak RSS")


def _check_parities(models: list[str], root: str, frames: int,
                    threads: int | None) -> dict[str, dict]:  # fmt: skip
    """Parity of each model that has a check (MixSTE, KTPFormer, STCFormer, P-STMO, D3DP).

    One child process per model (`_parity`).

    Returns:
        model → `{"max_abs_diff": float}`, plus `"error"` when it failed or exceeds
        `PARITY_ATOL`.
    """
    from liftbench.bench.perf._official_models import FRAME_KEYS
    from liftbench.models.official import family_of, official_lifters

    out: dict[str, dict] = {}
    for m in dict.fromkeys(models):
        if m not in official_lifters() or family_of(m).name not in FRAME_KEYS:
            continue
        res = _spawn({"parity": True, "model": m, "frames": frames, "official_root": root,
                      "threads": threads})  # fmt: skip
        if "error" not in res and not res["max_abs_diff"] <= PARITY_ATOL:
            res["error"] = (f"parity failed: max |Δ| = {res['max_abs_diff']:.2e} > "
                            f"{PARITY_ATOL:g} with the official weights")
        elif "error" in res and not res["error"].startswith("parity"):
            res["error"] = f"parity check failed: {res['error']}"
        out[m] = res
        print(f"  parity {m}: {res.get('error') or res['max_abs_diff']}", file=sys.stderr,
              flush=True)  # fmt: skip
    return out


def _alternate(specs: list[dict], root: str, rounds: int) -> tuple[list[dict], dict]:
    """Time every variant of ours and the official model `rounds` times, alternating.

    Even rounds run ours (each variant in turn) then the official model, odd rounds the official
    model then ours in reverse order, so no side always runs first or last.

    Args:
        specs: one child spec per variant of ours, all of the same (model, mode, B, T).
        root: `--official-root`.
        rounds: how many times each is timed.

    Returns:
        `(ours, official)`: per variant and for the official model, the median over rounds of
        the children's figures (`ms`, `rss_mb`; `min_ms` the minimum), with every round's
        `round_ms` / `round_rss_mb`.
    """
    official = {**specs[0], "official_root": root, "precision": "fp32", "compile": False}
    runs: list[list[dict]] = [[] for _ in specs]
    theirs: list[dict] = []
    for r in range(rounds):
        order = list(range(len(specs))) + [-1]
        for i in order if r % 2 == 0 else order[::-1]:
            if i < 0:
                theirs.append(_spawn(official))
            else:
                runs[i].append(_spawn(specs[i]))
    return [_combine(rs) for rs in runs], _combine(theirs)


def _combine(results: list[dict]) -> dict:
    """Median figures over rounds; the first error if any round failed."""
    for res in results:
        if "error" in res:
            return res
    out = dict(results[0])
    out["ms"] = statistics.median(r["ms"] for r in results)
    out["min_ms"] = min(r["min_ms"] for r in results)
    out["rss_mb"] = statistics.median(r["rss_mb"] for r in results)
    if "deviation" in out:
        out["deviation"] = max(r["deviation"] for r in results)
    if len(results) > 1:
        out["round_ms"] = [r["ms"] for r in results]
        out["round_rss_mb"] = [r["rss_mb"] for r in results]
    return out


def run(args: argparse.Namespace) -> dict:
    """Measure every requested configuration, print the table and return the figures."""
    from liftbench.models import is_lifter

    unknown = [m for m in args.models if not is_lifter(m)]
    if unknown:
        raise ValueError(f"--models: unknown lifter(s) {unknown}; see `liftbench models`")
    rounds = getattr(args, "rounds", 1)
    if min(args.batch, args.frames, args.repeats, rounds) < 1 or args.warmup < 0:
        raise ValueError("--batch, --frames, --repeats and --rounds must be >= 1 and "
                         "--warmup >= 0")
    threads = getattr(args, "threads", None)
    variants = [(p, c) for c in ((False, True) if getattr(args, "compile", False) else (False,))
                for p in dict.fromkeys(getattr(args, "precision", None) or ["fp32"])]
    groups = [
        [{"model": m, "mode": mode, "batch": args.batch, "frames": args.frames,
          "repeats": args.repeats, "warmup": args.warmup, "threads": threads,
          "size": getattr(args, "size", "paper"), "precision": p, "compile": c}
         for p, c in variants]
        for m in args.models for mode in getattr(args, "modes", ("fwd", "fwdbwd"))
    ]  # fmt: skip
    if args.long:
        groups += [
            [{"model": m, "mode": "fwdbwd", "batch": 8, "frames": 243, "repeats": 1, "warmup": 1,
              "threads": threads, "as_limit_gb": LONG_AS_LIMIT_GB, "precision": p, "compile": c}
             for p, c in variants]
            for m in LONG_MODELS
        ]  # fmt: skip
    root = getattr(args, "official_root", None)
    parity = _check_parities(args.models, root, args.frames, threads) if root else {}
    rows = []
    for group in groups:
        lead = group[0]
        failed = parity.get(lead["model"], {}).get("error")
        if failed:
            rows += [_lead(spec) | {"error": f"not timed: {failed}"} for spec in group]
            continue
        if root:
            ours, official = _alternate(group, root, rounds)
        else:
            ours, official = [_spawn(spec) for spec in group], None
        for spec, res in zip(group, ours, strict=True):
            rows.append(_row(spec, res, official))
            if spec["model"] in parity:
                rows[-1]["parity_max_abs_diff"] = parity[spec["model"]]["max_abs_diff"]
        print(f"  measured {lead['model']} {lead['mode']} B={lead['batch']} T={lead['frames']}",
              file=sys.stderr, flush=True)  # fmt: skip
    _print(rows)
    if "d3dp" in args.models:
        print("d3dp: one denoiser evaluation (x_t, t = 500), not the sampler (2·H·K of them)")
    if root:
        for name, res in parity.items():
            print(f"parity with the official weights, {name}: " + (
                res["error"] if "error" in res else f"max |Δ| = {res['max_abs_diff']:.1e}"))
        print(f"official code measured side by side from {root}"
              + (f", {rounds} alternating rounds (median)" if rounds > 1 else ""))
        return {"roofline_gflops": ROOFLINE_GFLOPS, "official_source": f"measured: {root}",
                "rounds": rounds, "parity": parity, "rows": rows}
    refs = reference_rows([r for r in rows if "error" not in r])
    _print_reference(refs)
    return {"roofline_gflops": ROOFLINE_GFLOPS, "rows": rows,
            "reference_official": {"source": OFFICIAL_SOURCE, "rows": refs}}
