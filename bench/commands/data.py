"""`liftbench data ACTION`: generate and inspect datasets.

Actions are entries of `ACTIONS` (name → help, argument adder, runner), so adding one (e.g.
`prepare` for a real dataset) is one function pair and one line.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def _add_synth(q: argparse.ArgumentParser) -> None:
    from liftbench.datamodules.synthetic.detector import NOISE_PRESETS
    from liftbench.datamodules.synthetic.rigs import RIG_KINDS

    q.add_argument("--out", type=Path, required=True, help="output folder (one .npz per take)")
    q.add_argument(
        "--motions", nargs="+", default=["all"], metavar="M",
        help="daily | sports | all | DeepMimic clip names | BVH paths (default: all)",
    )
    q.add_argument("--rig", choices=RIG_KINDS, default="ring", help="camera rig (default: ring)")
    q.add_argument("--cameras", type=int, default=4, help="synchronized cameras, 2-8 (default 4)")
    q.add_argument(
        "--noise", choices=sorted(NOISE_PRESETS), default="detector",
        help="2D detector model (default: detector; clean = ground-truth 2D)",
    )
    q.add_argument("--distortion", action="store_true", help="mild random lens distortion")
    q.add_argument("--subjects", type=int, default=2, help="subjects per motion (default 2)")
    q.add_argument("--fps", type=float, default=50.0, help="frame rate (default 50)")
    q.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _add_bvh_options(q)


def _add_bvh_options(q: argparse.ArgumentParser) -> None:
    q.add_argument("--bvh-map", type=Path, default=None, metavar="FILE.json",
                   help="BVH joints for chosen H36M-17 joints, a JSON object such as "
                   '{"thorax": "Chest", "head": "Head_End"} (overrides the automatic mapping)')
    q.add_argument("--flavour", choices=("auto", *_bvh_flavours()), default="auto",
                   help="BVH mapping: auto = by hierarchy and a standing pose (names as "
                   "hints), or one fixed name table (default: auto)")


def _bvh_flavours() -> list[str]:
    from liftbench.datamodules.synthetic.bvh_mapping import NAME_MAPS

    return sorted(NAME_MAPS)


def _run_synth(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from liftbench.datamodules.synthetic.capture import iter_takes, resolve_motions, save_take

    if not 1 <= args.cameras <= 8:
        raise ValueError(f"--cameras must be in 1..8, got {args.cameras}")
    from liftbench.bench.outputs import staged
    from liftbench.datamodules.synthetic.bvh_mapping import bvh_motion_options

    motions = resolve_motions(args.motions)
    options = bvh_motion_options(args.bvh_map, args.flavour)
    takes = iter_takes(
        motions, subjects=args.subjects, rig=args.rig, cameras=args.cameras, noise=args.noise,
        distortion=args.distortion, fps=args.fps, seed=args.seed, bvh_options=options,
    )
    n = 0
    with staged() as stage:  # the takes appear when all were generated, or none
        for rec in tqdm(takes, total=len(motions) * args.subjects, unit="take", desc="synth"):
            save_take(rec, stage.path(args.out / f"{rec.take}.npz"))
            n += 1
    print(f"wrote {n} takes to {args.out}")
    return 0


def _add_show(q: argparse.ArgumentParser) -> None:
    q.add_argument("file", type=Path, help="a take .npz written by `liftbench data synth`")
    q.add_argument("--out", type=Path, required=True, help="output PNG")
    q.add_argument("--frame", type=int, default=None, help="frame to draw (default: middle)")
    q.add_argument("--max-views", type=int, default=4, help="2D views drawn (default 4)")


def _run_show(args: argparse.Namespace) -> int:
    from liftbench.datamodules.synthetic.capture import load_take
    from liftbench.datamodules.synthetic.plot import plot_take

    rec = load_take(args.file)
    frame = rec.num_frames // 2 if args.frame is None else args.frame
    if not 0 <= frame < rec.num_frames:
        raise ValueError(f"--frame must be in 0..{rec.num_frames - 1}, got {frame}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot_take(rec, frame, args.out, max_views=args.max_views)
    print(f"wrote {args.out}")
    return 0


def _add_show_bvh(q: argparse.ArgumentParser) -> None:
    q.add_argument("file", type=Path, help="a BVH motion-capture file")
    q.add_argument("--unit", default="auto",
                   help="file unit: auto, m, cm, mm, inch or cmu (default: auto)")
    _add_bvh_options(q)


def _run_show_bvh(args: argparse.Namespace) -> int:
    from liftbench.datamodules.synthetic.bvh import read_bvh
    from liftbench.datamodules.synthetic.bvh_mapping import UNITS, bvh_motion_options, describe_bvh

    if args.unit != "auto" and args.unit not in UNITS:
        raise ValueError(f"--unit must be auto or one of {', '.join(UNITS)}, got {args.unit!r}")
    options = bvh_motion_options(args.bvh_map, args.flavour)
    print(describe_bvh(read_bvh(args.file), options["flavour"], options.get("name_map"),
                       unit=args.unit))
    return 0


def _add_prepare(q: argparse.ArgumentParser) -> None:
    q.add_argument("dataset", help="registered dataset name (h36m, sportspose, aspset, ...)")
    q.add_argument("--root", type=Path, required=True, help="the dataset folder as distributed")
    q.add_argument("--cache-dir", type=Path, default=None, help="cache root (default per dataset)")
    q.add_argument(
        "-o", "--option", action="append", default=[], metavar="KEY=VALUE",
        help="reader option, JSON value or string (e.g. source_2d=cpn_ft_h36m_dbb)",
    )


def _run_prepare(args: argparse.Namespace) -> int:
    import json

    from liftbench.datamodules.real.prepare import format_summary, prepare_dataset

    options = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--option must be KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    summary = prepare_dataset(args.dataset, args.root, args.cache_dir, options)
    print(format_summary(args.dataset, summary))
    return 0


ACTIONS: dict[str, tuple[str, Callable, Callable]] = {
    "synth": ("generate synthetic multi-view takes (.npz)", _add_synth, _run_synth),
    "show": ("draw a take's 3D skeleton and 2D views to a PNG", _add_show, _run_show),
    "show-bvh": ("report how a BVH file's joints map to H36M-17", _add_show_bvh,
                 _run_show_bvh),
    "prepare": ("convert a real dataset once into cached records", _add_prepare, _run_prepare),
}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `data` with one nested parser per entry of `ACTIONS`."""
    p = sub.add_parser("data", help="generate and inspect datasets (synth, show, show-bvh, "
                       "prepare)")
    inner = p.add_subparsers(dest="action", metavar="ACTION")
    for name, (text, add_arguments, run) in ACTIONS.items():
        # options added when the action is used: some choices import the synthetic capture
        q = inner.add_parser(name, help=text, description=text, build=add_arguments)
        q.set_defaults(func=run)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
    return p
