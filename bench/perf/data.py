"""`liftbench perf data`: synthetic data generation, cache start-up and loader throughput."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

NAME = "data"
HELP = "synthetic dataset: generation time, cached start-up and training-loader clips/s"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the data benchmark."""
    parser.add_argument("--frames", type=int, default=27, help="clip length T (default 27)")
    parser.add_argument("--views", type=int, default=1, help="views per sample (default 1)")
    parser.add_argument("--batch-size", type=int, default=64, help="clips per batch (default 64)")
    parser.add_argument("--clips", type=int, default=200_000, help="clips to draw (default 2e5)")
    parser.add_argument(
        "--motions", nargs="+", default=["all"], help="motions to generate (default all)"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=None,
        help="cache root (default: a fresh temporary folder, so generation is timed)",
    )


def run(args: argparse.Namespace) -> dict:
    """Time generation, a cached restart, and the training loader (in-process, no workers)."""
    from liftbench.datamodules.synthetic.datamodule import SyntheticDataModule

    with tempfile.TemporaryDirectory() as tmp:
        root = args.cache_dir or Path(tmp)
        kwargs = dict(
            motions=args.motions, views=args.views, cameras=max(4, args.views),
            frames=args.frames, batch_size=args.batch_size, cache_dir=root, num_workers=0,
        )
        t0 = time.perf_counter()
        dm = SyntheticDataModule(**kwargs)
        dm.setup("fit")
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        dm = SyntheticDataModule(**kwargs)
        dm.setup("fit")
        cached = time.perf_counter() - t0
        loader = dm.train_dataloader()
        n_train = len(dm.datasets["train"])
        clips, t0 = 0, time.perf_counter()
        while clips < args.clips:
            for batch in loader:
                clips += len(batch["index"])
                if clips >= args.clips:
                    break
        loop = time.perf_counter() - t0
    result = {
        "frames": args.frames, "views": args.views, "batch_size": args.batch_size,
        "train_clips": n_train, "generate_s": round(first, 3), "cached_setup_s": round(cached, 4),
        "loader_clips_per_s": round(clips / loop), "loader_clips": clips,
    }
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    return result
