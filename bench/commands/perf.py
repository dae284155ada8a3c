"""`liftbench perf NAME`: run a performance benchmark and print (optionally save) its figures."""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from liftbench.bench.perf import benchmark_modules


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `perf` and one nested sub-command per benchmark module."""
    p = sub.add_parser("perf", help="performance benchmarks (metrics, models, data, ...)")
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
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
    return p


def _common(q: argparse.ArgumentParser) -> None:
    q.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    q.add_argument("--threads", type=int, default=None, help="torch intra-op threads")


def _environment() -> dict:
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


def _run_one(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"benchmark": args.bench, "environment": _environment(), **args.module.run(args)}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


def _run_all(args: argparse.Namespace) -> int:
    results = {}
    for name, module in args.modules.items():
        if not getattr(module, "IN_ALL", True):
            print(f"== perf {name}: skipped (long; run `liftbench perf {name}`) ==")
            continue
        print(f"== perf {name} ==")
        q = argparse.ArgumentParser()
        module.add_arguments(q)
        results[name] = module.run(q.parse_args([]))
    if args.json:
        args.json.write_text(json.dumps({"environment": _environment(), **results}, indent=2))
    return 0
