"""`liftbench sweep FILE.yaml`: a wandb sweep file, online through wandb or expanded offline.

Online (wandb API key, `--mode auto|online`): `wandb.sweep` registers the file and an agent
runs `--count` trials in this process; a summary run logs every trial as a `wandb.Table`.
Offline (no key, `--mode offline`, or `--expand-only`): grid and random sweeps are expanded
here and every trial is run (`method: bayes` needs the server: use `--bayes-as-random`).
Each trial writes its run record with `sweep: {id, trial, params}`. Extra `KEY=VALUE`
overrides apply to every trial (e.g. results_dir=sweeps/results).
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `sweep`."""
    p = sub.add_parser("sweep", help="run a wandb sweep file (online agent or offline expansion)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="sweep YAML (a path or a name in the config folders' sweep/, "
                   "e.g. supervised_w_vel)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="applied to every trial")
    p.add_argument("--mode", choices=("auto", "online", "offline"), default="auto",
                   help="auto: online with a wandb API key, else offline (default)")
    p.add_argument("--count", type=int, help="trials (random: default run_cap; grid: at most)")
    p.add_argument("--seed", type=int, default=0, help="seed of offline random draws (0)")
    p.add_argument("--bayes-as-random", action="store_true",
                   help="offline: expand method bayes as random search")
    p.add_argument("--expand-only", action="store_true",
                   help="print the offline trials (their overrides) and exit")
    p.add_argument("--project", default="liftbench", help="wandb project (online)")
    p.add_argument("--entity", default=None, help="wandb entity (online)")
    p.set_defaults(func=_run)
    from liftbench.bench.commands.grid import intermixed

    return intermixed(p)


def _run(args: argparse.Namespace) -> int:
    from liftbench.bench.commands.grid import resolve_config
    from liftbench.bench.sweep import (
        compose_cells,
        expand_sweep,
        load_sweep,
        local_sweep_id,
        run_cells,
        run_online,
        summary,
        sweep_cells,
        wandb_online,
    )

    path = resolve_config(args.file, "sweep")
    sweep = load_sweep(path)
    metric = (sweep.get("metric") or {}).get("name", "test/mpjpe").split("/")[-1]
    if not args.expand_only and wandb_online(args.mode):
        sweep_id, cells = run_online(sweep, args.project, args.entity, args.count,
                                     args.overrides)
        print(f"wandb sweep {sweep_id}")
        print(summary(cells, metric))
        return 0 if all(c.status == "ok" for c in cells) else 1
    if sweep["method"] == "bayes" and args.bayes_as_random:
        print("offline: method bayes expanded as random search (--bayes-as-random)")
    trials = expand_sweep(sweep, count=args.count, seed=args.seed,
                          bayes_as_random=args.bayes_as_random)
    cells = sweep_cells(sweep, trials, local_sweep_id(path), args.overrides)
    if args.expand_only:
        compose_cells(cells)  # every trial's overrides must compose
        for cell in cells:
            print(f"{cell.name}\n  {' '.join(cell.overrides)}")
        return 0
    print(f"offline sweep {cells[0].sweep['id'] if cells else ''}: {len(cells)} trials "
          f"({sweep['method']})")
    run_cells(cells, desc="sweep")
    print(summary(cells, metric))
    return 0 if all(c.status == "ok" for c in cells) else 1
