"""`liftbench perf NAME`: run a performance benchmark, print and publish its figures.

Every run publishes the benchmark's figures as `perf-NAME.md` / `perf-NAME.csv` under
`--tables-dir` (default `$LIFTBENCH_TABLES_DIR`, else `results/tables`), with the command line and
the machine (`bench/perf/_publish.py`); `--json FILE` also writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from liftbench.bench.perf import benchmark_modules
from liftbench.bench.perf._publish import publish_result
from liftbench.leaderboard.published import command_line, written_line


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `perf` and one nested sub-command per benchmark module."""
    p = sub.add_parser("perf", help="performance benchmarks (metrics, models, data, ...)",
                       build=_add_benchmarks)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
    return p


def _add_benchmarks(p: argparse.ArgumentParser) -> None:
    """One nested sub-command per benchmark (added on use: the modules import torch)."""
    inner = p.add_subparsers(dest="bench", metavar="NAME")
    modules = benchmark_modules()
    for name, module in modules.items():
        q = inner.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(q)
        _common(q)
        q.set_defaults(func=_run_one, module=module)
    long = [n for n, m in modules.items() if not getattr(m, "IN_ALL", True)]
    q = inner.add_parser("all", help="run every benchmark with its default settings, except the "
                                     f"long ones ({', '.join(long)}), which run by name")
    _common(q)
    q.set_defaults(func=_run_all, modules=modules)


def _common(q: argparse.ArgumentParser) -> None:
    q.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    q.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    q.add_argument("--tables-dir", type=Path, default=None, metavar="DIR",
                   help="where the figures are published as perf-NAME.md / .csv (default "
                   "$LIFTBENCH_TABLES_DIR, else results/tables)")


def _environment() -> dict:
    import torch

    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


def _publish(name: str, module: object, figures: dict, args: argparse.Namespace) -> None:
    """Publish one benchmark's returned figures (the one path for every benchmark)."""
    paths = publish_result(name, figures, about=getattr(module, "HELP", ""),
                           command=command_line(getattr(args, "argv", None)),
                           out_dir=args.tables_dir)
    print(written_line(paths))


def _run_one(args: argparse.Namespace) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    figures = args.module.run(args)
    result = {"benchmark": args.bench, "environment": _environment(), **figures}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    _publish(args.bench, args.module, figures, args)
    return 0


def _run_all(args: argparse.Namespace) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    results = {}
    for name, module in args.modules.items():
        if not getattr(module, "IN_ALL", True):
            print(f"== perf {name}: skipped (long; run `liftbench perf {name}`) ==")
            continue
        print(f"== perf {name} ==")
        q = argparse.ArgumentParser()
        module.add_arguments(q)
        results[name] = module.run(q.parse_args([]))
        _publish(name, module, results[name], args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"environment": _environment(), **results}, indent=2))
    return 0
