"""Default torch / BLAS thread counts for the engine's processes.

On a CPU, torch starts one intra-op thread per core in *every* process; with several training
processes per machine (CPU DDP) or other work running, the threads oversubscribe the cores and
spin-wait (measured here: a tiny lifter's steps up to 20x slower). The engine therefore gives each
CPU training process `cores // processes` threads, unless the user chose (`OMP_NUM_THREADS`).
"""

from __future__ import annotations

import os

import torch


def cpu_processes_per_node(accelerator: str, devices: object) -> int:
    """Training processes one machine runs for a CPU trainer (1 for GPU trainers)."""
    if accelerator not in ("cpu", "auto") or torch.cuda.is_available():
        return 1
    try:
        return max(1, int(devices))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1  # "auto" / a list of devices: one process


def configure_threads(processes: int = 1) -> int:
    """Set intra-op threads to `cores // processes` (≥ 1) unless `OMP_NUM_THREADS` is set.

    Also exports `OMP_NUM_THREADS` so that spawned worker processes (DDP spawn) start with the
    same count. Returns the thread count in effect.
    """
    chosen = os.environ.get("OMP_NUM_THREADS")
    if chosen:
        return torch.get_num_threads()
    threads = max(1, (os.cpu_count() or 1) // max(1, processes))
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    return threads
