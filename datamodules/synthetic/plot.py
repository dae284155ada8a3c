"""Drawing a take: the 3D skeleton with its cameras, and the 2D of each view (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from liftbench.datamodules.records import SequenceRecord
from liftbench.geometry.skeletons import H36M17, side_color


def plot_take(rec: SequenceRecord, frame: int, out: Path, max_views: int = 4) -> None:
    """Write a PNG: world 3D skeleton + camera centres, and up to `max_views` 2D views.

    2D panels show the image frame, the clean projection (thin grey) and the detected 2D
    (coloured; joints with confidence < 0.3 drawn as hollow circles).

    Args:
        rec: the take (needs `pose3d_world`).
        frame: frame index to draw.
        out: PNG path.
        max_views: how many cameras get a 2D panel.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if rec.pose3d_world is None:
        raise ValueError(f"take {rec.take!r} has no 3D to draw")
    views = min(rec.num_views, max_views)
    rows = 1 if views <= 2 else 2
    cols = -(-views // rows)
    fig = plt.figure(figsize=(4.6 * (cols + 1.3), 3.4 * rows + 0.6))
    grid = fig.add_gridspec(rows, cols + 2)
    ax = fig.add_subplot(grid[:, :2], projection="3d")
    pose = rec.pose3d_world[frame]
    for parent, child in H36M17.bones:
        seg = pose[[parent, child]]
        ax.plot(seg[:, 0], seg[:, 1], seg[:, 2], color=side_color(child), lw=2)
    ax.scatter(*pose[9], color="orange", s=25, label="nose")
    centres = -np.einsum("vji,vj->vi", rec.R[:, frame], rec.t[:, frame])
    for v, c in enumerate(centres):
        axis = rec.R[v, frame, 2]  # optical axis in world coordinates
        ax.scatter(*c, color="green", marker="^", s=30)
        ax.quiver(*c, *axis, length=0.8, color="green")
        ax.text(*c, f" {rec.view_names[v]}", fontsize=7)
    pts = np.concatenate([pose, centres])
    mid, span = (pts.max(0) + pts.min(0)) / 2, (pts.max(0) - pts.min(0)).max() / 2
    ax.set(xlim=(mid[0] - span, mid[0] + span), ylim=(mid[1] - span, mid[1] + span),
           zlim=(-0.05, 2 * span - 0.05), xlabel="x (m)", ylabel="y (m)",
           zlabel="z (m)", box_aspect=(1, 1, 1))
    ax.set_title(f"{rec.take} frame {frame} (world, Z up)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    for v in range(views):
        a = fig.add_subplot(grid[v // cols, 2 + v % cols])
        w, h = rec.image_size[v]
        a.add_patch(plt.Rectangle((0, 0), w, h, fill=False, color="0.5"))
        if rec.pose2d_clean is not None:
            clean = rec.pose2d_clean[v, frame]
            for parent, child in H36M17.bones:
                a.plot(*clean[[parent, child]].T, color="0.6", lw=1)
        det = rec.pose2d[v, frame]
        for parent, child in H36M17.bones:
            a.plot(*det[[parent, child], :2].T, color=side_color(child), lw=1.5)
        low = det[:, 2] < 0.3
        a.scatter(*det[~low, :2].T, s=8, color="black", zorder=3)
        a.scatter(*det[low, :2].T, s=30, facecolors="none", edgecolors="magenta", zorder=3)
        a.set(xlim=(0, w), ylim=(h, 0), aspect="equal")
        a.set_title(f"{rec.view_names[v]} {w}x{h}", fontsize=9)
        a.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
