"""Shared test fixtures: quiet wandb, deterministic threads, the optional ../shared/data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "disabled")
# One intra-op thread per test process: `make test` runs 2 xdist workers (plus spawned DDP and
# CLI subprocesses, which inherit this) on 2 cores; more threads only oversubscribe them.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """`../shared/data` beside the checkout (or $LIFTBENCH_SHARED_DATA)."""
    env = os.environ.get("LIFTBENCH_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to the real data fixtures; skips the test cleanly when they are absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real data fixtures not found at {path} (only present in the dev workspace)")
    return path


@pytest.fixture(autouse=True, scope="session")
def published_tables_dir(tmp_path_factory) -> Iterator[Path]:
    """Commands publish their tables here, never into the checkout's `results/tables`.

    `demo`, `reproduce`, `perf` and `table --publish` write to `$LIFTBENCH_TABLES_DIR` when no
    `--tables-dir` is given (spawned processes inherit the variable).
    """
    path = tmp_path_factory.mktemp("published-tables")
    previous = os.environ.get("LIFTBENCH_TABLES_DIR")
    os.environ["LIFTBENCH_TABLES_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("LIFTBENCH_TABLES_DIR", None)
    else:
        os.environ["LIFTBENCH_TABLES_DIR"] = previous
