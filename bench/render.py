"""Rendering lifted sequences: the 2D input beside the 3D prediction (PNG frames, GIF or MP4)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from liftbench.geometry.skeletons import H36M17, side_color


def check_render_target(out: str | Path, every: int = 1) -> None:
    """Fail early (before any lifting) on a render target that cannot be written.

    Raises:
        ValueError: `every < 1`, or an `.mp4` target without ffmpeg on PATH.
    """
    if every < 1:
        raise ValueError(f"--every must be >= 1, got {every}")
    if Path(out).suffix == ".mp4" and shutil.which("ffmpeg") is None:
        raise ValueError(f"--render {out}: rendering MP4 needs ffmpeg on PATH; use a .gif or a "
                         "PNG folder instead")


def render_prediction(result: dict[str, Any], out: str | Path, view: int = 0, every: int = 1,
                      fps: float = 25.0) -> list[Path]:
    """Draw view `view` of a `bench.predict.predict_file` result.

    Args:
        result: `{"pose3d": (V, T, 17, 3) 2.5D, "pose2d": (V, T, 17, 3) px, "image_size": (V, 2)}`.
        out: `*.gif` or `*.mp4` (an animation; MP4 needs ffmpeg on PATH), or a folder / `*.png`
            (one PNG per drawn frame, `frame_00000.png`…).
        view: which view to draw.
        every: draw every `every`-th frame.
        fps: animation frame rate.

    Returns:
        The written files.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import animation

    out = Path(out)
    pose3d, pose2d = result["pose3d"], result["pose2d"]
    if not 0 <= view < pose3d.shape[0]:
        raise ValueError(f"view must be in [0, {pose3d.shape[0]}), got {view}")
    check_render_target(out, every)
    w, h = result["image_size"][view]
    p3 = pose3d[view][:, :, [0, 2, 1]] * np.array([1.0, 1.0, -1.0])  # x, depth, up
    lim = np.abs(p3).max() * 1.05 + 1e-9
    fig = plt.figure(figsize=(9, 4.4))
    ax2 = fig.add_subplot(1, 2, 1)
    ax3 = fig.add_subplot(1, 2, 2, projection="3d")

    def draw(t: int) -> None:
        ax2.clear()
        ax3.clear()
        kp = pose2d[view, t]
        for parent, child in H36M17.bones:
            ax2.plot(*kp[[parent, child], :2].T, color=side_color(child), lw=2)
            ax3.plot(*p3[t, [parent, child]].T, color=side_color(child), lw=2)
        low = kp[:, 2] < 0.3
        ax2.scatter(*kp[low, :2].T, s=30, facecolors="none", edgecolors="magenta")
        ax2.set(xlim=(0, w), ylim=(h, 0), aspect="equal", title=f"2D input, frame {t}")
        ax3.set(xlim=(-lim, lim), ylim=(-lim, lim), zlim=(-lim, lim), xlabel="x", ylabel="depth",
                zlabel="up", box_aspect=(1, 1, 1), title="3D prediction (2.5D, root-relative)")
        ax3.tick_params(labelsize=6)

    frames = list(range(0, pose3d.shape[1], every))
    written: list[Path] = []
    try:
        if out.suffix in (".gif", ".mp4"):
            out.parent.mkdir(parents=True, exist_ok=True)
            anim = animation.FuncAnimation(fig, draw, frames=frames)
            writer = animation.PillowWriter(fps=fps) if out.suffix == ".gif" else \
                animation.FFMpegWriter(fps=fps)
            anim.save(out, writer=writer)
            written.append(out)
        else:
            folder = out if out.suffix != ".png" else out.parent
            folder.mkdir(parents=True, exist_ok=True)
            for t in frames:
                draw(t)
                path = folder / f"frame_{t:05d}.png"
                fig.savefig(path, dpi=90)
                written.append(path)
    finally:
        plt.close(fig)
    return written
