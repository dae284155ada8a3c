"""Lifting whole sequences window by window (predict, calibrate, the pseudo-label passes).

A sequence lifter sees T frames at a time (`max_frames`); a frame-wise one takes any length.

- Sequence to sequence (`output_frames = "all"`): windows of T are laid end to end and the last
  one is aligned to the sequence end (only its new frames are kept), so every frame is lifted
  exactly once with a full window of context. A sequence shorter than T is lifted whole when the
  lifter takes that length (`min_frames`), else edge-padded to T (its first and last frames
  repeated, as VideoPose3D's and MotionBERT's test-time padding) and the padded frames dropped.
- Sequence to frame (`output_frames = "centre"`, e.g. P-STMO): every frame is the centre of its
  own window, the sequence edge-padded by (T - 1) // 2 frames on both sides (as the official
  evaluation pads), so T in = T out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def windowing(lifter: torch.nn.Module) -> dict[str, object]:
    """`lift_windows` keyword arguments of a lifter: its windowing and its weights' type.

    Read from `max_frames`, `min_frames`, `output_frames` and the first parameter or buffer.
    """
    param = next(iter([*lifter.parameters(), *lifter.buffers()]), torch.zeros(()))
    return {"window": getattr(lifter, "max_frames", None),
            "min_window": getattr(lifter, "min_frames", None),
            "centre": getattr(lifter, "output_frames", "all") == "centre",
            "dtype": param.dtype, "device": param.device}


def window_starts(frames: int, window: int) -> list[int]:
    """Start frames of the windows covering `frames` frames (`window <= frames`)."""
    starts = list(range(0, frames - window + 1, window))
    if starts[-1] + window < frames:
        starts.append(frames - window)
    return starts


def _edge_pad(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """Repeat the first / last frame of `(C, N, ...)` `before` / `after` times."""
    return np.concatenate([np.repeat(x[:, :1], before, 1), x, np.repeat(x[:, -1:], after, 1)], 1)


@torch.no_grad()
def lift_windows(predict: Callable[[torch.Tensor], torch.Tensor], inputs: np.ndarray,
                 window: int | None, batch_size: int = 256,
                 dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu",
                 min_window: int | None = None, centre: bool = False) -> np.ndarray:  # fmt: skip
    """Run `predict` over `(C, N, J, 3)` sequences window by window.

    Args:
        predict: `(B, T, J, 3)` normalised 2D + confidence → `(B, T, J', 3)` (e.g. a regime's
            `predict_pose`: flip-averaged, root-relative 2.5D).
        inputs: `(C, N, J, 3)` C sequences of N frames (normalised 2D + confidence).
        window: the lifter's T; None (frame-wise lifters) lifts each sequence at once.
        batch_size: windows per call of `predict`.
        dtype: tensor dtype `predict` expects.
        device: device `predict` runs on.
        min_window: the shortest T the lifter takes (`Lifter.min_frames`); None: exactly
            `window` (shorter sequences are edge-padded).
        centre: a sequence-to-frame lifter: only each window's centre frame is its prediction.

    Returns:
        `(C, N, J', 3)` float64 predictions.
    """
    inputs = np.asarray(inputs)
    if inputs.ndim != 4 or inputs.shape[1] < 1:
        raise ValueError(f"inputs must be (C, N, J, 3) with N >= 1, got {inputs.shape}")
    C, N = inputs.shape[:2]

    def run(clips: np.ndarray) -> np.ndarray:
        """`(S, T, J, 3)` clips → `(S, T, J', 3)` float64."""
        flat = torch.as_tensor(clips, dtype=dtype, device=device)
        return torch.cat([predict(c) for c in flat.split(batch_size)]).double().cpu().numpy()

    if centre and window:
        half = (int(window) - 1) // 2
        padded = _edge_pad(inputs, half, int(window) - 1 - half)
        # every frame's own window, built lazily per batch of frames to bound memory
        out = []
        for c in range(C):
            idx = np.arange(N)[:, None] + np.arange(int(window))[None]  # (N, T)
            pred = run(padded[c][idx])  # (N, T, J', 3)
            out.append(pred[:, half])
        return np.stack(out)
    win = int(window) if window else N
    before = 0
    if N < win:
        if min_window is not None and N >= min_window:
            win = N  # the lifter takes this shorter clip as it is
        else:
            before = (win - N) // 2
            inputs = _edge_pad(inputs, before, win - N - before)
    total = inputs.shape[1]
    starts = window_starts(total, win)
    clips = np.stack([inputs[:, s : s + win] for s in starts], 1)  # (C, W, win, J, 3)
    pred = run(clips.reshape((-1,) + clips.shape[2:]))
    pred = pred.reshape(clips.shape[:3] + pred.shape[-2:])
    out = np.zeros((C, total) + pred.shape[-2:])
    for i, s in enumerate(starts):
        out[:, s : s + win] = pred[:, i]  # the end-aligned window overwrites only the tail
    return out[:, before : before + N]
