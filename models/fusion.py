"""Cross-view self-fusion module (CSM) of CVSF (Kim et al., ACCV 2022), in canonical 2D space.

Given, for each of V views of one frame, the canonical 2D `p_v` (root-centred, Frobenius-
normalised), the confidences `w_v`, and the lifter's canonical pose `P_v` and rotation `R_v`,
the module re-estimates the low-confidence 2D joints of every view from the other views
(Kim et al.'s CSM, official `utils/fusion.py`). For target view v and joint j:

1. Joint heatmap: every source view c predicts the joint in view v as `(R_v P_c)_xy`, rescaled
   to the RMS of `p_v`; a Gaussian (σ 3 px on a 64×64 grid, pixel `u = p·64 + 32`) weighted by
   `w_c,j` is stamped at each of the V hypotheses (the target's own included) and summed.
2. Epipolar-line heatmap (orthographic): the viewing ray of joint j in source view s,
   `{(p_s,j, z) : z ∈ [−3, 3]}`, mapped by `R_v R_sᵀ` and dropped to x, y is a line in view v; a
   Gaussian ridge (σ 2 px) along it, weighted by `w_s,j`, restricted to the window
   x ∈ (0.2, 0.8)·64, y ∈ (0.1, 0.9)·64. The lines of the V−1 other views are summed; if only
   one of them is non-empty they are dropped (one line does not localise a point).
3. Joints with `w_v,j` below the threshold (0.85) and not in `except_joints` are replaced by the
   hard argmax of joint + epipolar heatmaps: `p = (u − 32)/64`. Everything else is unchanged.

No gradient flows through the module (the official code works on detached numpy copies).

Choices (reproduce or fix):

- Hypothesis weights are the confidences of the hypothesis' own sample and source view; the
  official code indexes sample 0's confidences for every sample and zeroes entries of the shared
  confidence array in place when a hypothesis leaves the grid (fixed; a hypothesis outside the
  grid just gets weight 0).
- The epipolar line in view v is rescaled by `n_s / n_v`, the ratio of the 2D Frobenius norms
  of the two views (estimated from the mean canonical pose of the views): the canonical 2D of
  each view carries its own normalisation, so without it the line misses the joint whenever the
  two views see the person at different 2D sizes.
- The ridge is the exact Gaussian of the distance to the ray segment inside the window, instead
  of 16 stamped Gaussians overwriting each other (same ridge without the 16-sample ripple).
- Gaussians are not truncated to 7×7 / 5×5 windows.
- Decoding is the official hard argmax (1/64 resolution); a heatmap with no mass leaves the
  joint unchanged (the official code returns pixel (0, 0)).
- `except_joints` default (0, 7, 8, 9, 10): pelvis, spine, thorax, nose, head — the official
  16-joint [pelvis, thorax, neck/nose, head] mapped to H36M-17, plus the spine the 16-joint
  skeleton lacks (a torso-centre joint like the others).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

_CHUNK = 256  # joints per heatmap batch: K × V × 64 × 64 floats stay a few tens of MB


class CrossViewFusion(nn.Module):
    """CSM: refine low-confidence canonical 2D joints from the other views (no parameters).

    Args:
        heatmap_size: side of the square heatmap in pixels (64).
        joint_sigma: σ of the joint-hypothesis Gaussians, pixels (int(6·64/128) = 3).
        epipolar_sigma: σ of the epipolar ridges, pixels (int(2·64/64) = 2).
        threshold: joints with confidence below it are refined (0.85).
        except_joints: joints never refined.
        ray_extent: the ray's z range `[−ray_extent, ray_extent]` in canonical units (3).
        window_x: epipolar window in x, fractions of the heatmap size ((0.2, 0.8)).
        window_y: epipolar window in y ((0.1, 0.9)).
        use_joint: use the joint heatmap.
        use_epipolar: use the epipolar-line heatmap.
    """

    def __init__(
        self,
        heatmap_size: int = 64,
        joint_sigma: float = 3.0,
        epipolar_sigma: float = 2.0,
        threshold: float = 0.85,
        except_joints: Sequence[int] = (0, 7, 8, 9, 10),
        ray_extent: float = 3.0,
        window_x: Sequence[float] = (0.2, 0.8),
        window_y: Sequence[float] = (0.1, 0.9),
        use_joint: bool = True,
        use_epipolar: bool = True,
    ) -> None:
        super().__init__()
        if heatmap_size < 2 or joint_sigma <= 0 or epipolar_sigma <= 0 or ray_extent <= 0:
            raise ValueError(
                "heatmap_size must be >= 2 and joint_sigma, epipolar_sigma, ray_extent > 0, got "
                f"{heatmap_size}, {joint_sigma}, {epipolar_sigma}, {ray_extent}"
            )
        if not (use_joint or use_epipolar):
            raise ValueError("at least one of use_joint and use_epipolar must be True")
        self.hs = int(heatmap_size)
        self.joint_sigma = float(joint_sigma)
        self.epipolar_sigma = float(epipolar_sigma)
        self.threshold = float(threshold)
        self.except_joints = tuple(int(j) for j in except_joints)
        self.ray_extent = float(ray_extent)
        self.window = (tuple(float(v) for v in window_x), tuple(float(v) for v in window_y))
        self.use_joint, self.use_epipolar = use_joint, use_epipolar

    def to_pixels(self, p: torch.Tensor) -> torch.Tensor:
        """Canonical coordinates → heatmap pixels (`u = p·hs + hs//2`)."""
        return p * self.hs + self.hs // 2

    def to_canonical(self, u: torch.Tensor) -> torch.Tensor:
        """Heatmap pixels → canonical coordinates (`p = (u − hs//2)/hs`)."""
        return (u - self.hs // 2) / self.hs

    @torch.no_grad()
    def forward(
        self, p2d: torch.Tensor, conf: torch.Tensor, pose: torch.Tensor, rot: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Refine the low-confidence joints.

        Args:
            p2d: `(..., V, J, 2)` canonical 2D of the V views (root-centred, Frobenius-normalised).
            conf: `(..., V, J)` confidences in [0, 1].
            pose: `(..., V, J, 3)` canonical 3D poses predicted from each view.
            rot: `(..., V, 3, 3)` rotations canonical → camera of each view.

        Returns:
            `(refined (..., V, J, 2), replaced (..., V, J) bool)`: the 2D with the refined joints
            replaced (canonical units, detached) and which joints were replaced.
        """
        if p2d.ndim < 3 or p2d.shape[-1] != 2:
            raise ValueError(f"p2d must have shape (..., V, J, 2), got {tuple(p2d.shape)}")
        lead, v, j = p2d.shape[:-3], p2d.shape[-3], p2d.shape[-2]
        if v < 2:
            raise ValueError(f"cross-view fusion needs V >= 2 views, got p2d {tuple(p2d.shape)}")
        if conf.shape != p2d.shape[:-1]:
            raise ValueError(f"conf must have shape {tuple(p2d.shape[:-1])}, got "
                             f"{tuple(conf.shape)}")
        if pose.shape != p2d.shape[:-1] + (3,):
            raise ValueError(f"pose must have shape {tuple(p2d.shape[:-1]) + (3,)}, got "
                             f"{tuple(pose.shape)}")
        if rot.shape != p2d.shape[:-2] + (3, 3):
            raise ValueError(f"rot must have shape {tuple(p2d.shape[:-2]) + (3, 3)}, got "
                             f"{tuple(rot.shape)}")
        p = p2d.reshape(-1, v, j, 2).float()
        w = conf.reshape(-1, v, j).float()
        pz = pose.reshape(-1, v, j, 3).float()
        r = rot.reshape(-1, v, 3, 3).float()
        allowed = torch.ones(j, dtype=torch.bool, device=p.device)
        allowed[[k for k in self.except_joints if 0 <= k < j]] = False
        replace = (w < self.threshold) & allowed
        refined = p.clone()
        n_idx, v_idx, j_idx = replace.nonzero(as_tuple=True)
        if n_idx.numel():
            hyp, weight = self._hypotheses(p, w, pz, r)
            origin, direction, line_w = self._rays(p, w, pz, r)
            for s in range(0, n_idx.numel(), _CHUNK):
                sel = (n_idx[s : s + _CHUNK], v_idx[s : s + _CHUNK], j_idx[s : s + _CHUNK])
                heat = torch.zeros(sel[0].numel(), self.hs, self.hs, device=p.device)
                if self.use_joint:
                    heat = heat + self._joint_heatmap(hyp[sel], weight[sel[0], :, sel[2]])
                if self.use_epipolar:
                    heat = heat + self._epipolar_heatmap(origin[sel], direction[sel], line_w[sel])
                peak, flat = heat.flatten(1).max(-1)
                u = torch.stack((flat % self.hs, flat // self.hs), -1).to(p.dtype)
                new = torch.where((peak > 0)[:, None], self.to_canonical(u), p[sel])
                refined[sel] = new
        replaced = torch.zeros_like(replace)
        replaced[n_idx, v_idx, j_idx] = True
        return (refined.reshape(p2d.shape).to(p2d.dtype),
                replaced.reshape(*lead, v, j))

    # --------------------------------------------------------------------------- heatmap parts
    def _hypotheses(
        self, p: torch.Tensor, w: torch.Tensor, pose: torch.Tensor, rot: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel hypotheses `(N, Vt, J, Vs, 2)` of `(R_v P_c)_xy` and weights `(N, Vs, J)`."""
        cross = torch.einsum("nvkl,ncjl->nvcjk", rot, pose)[..., :2]  # (N, Vt, Vs, J, 2)
        rms_cross = cross.square().mean((-2, -1)).sqrt().clamp_min(1e-8)
        rms_view = p.square().mean((-2, -1)).sqrt()  # (N, Vt)
        cross = cross / rms_cross[..., None, None] * rms_view[:, :, None, None, None]
        pix = self.to_pixels(cross).permute(0, 1, 3, 2, 4)  # (N, Vt, J, Vs, 2)
        return pix, w

    def _joint_heatmap(self, hyp: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Sum of weighted Gaussians at `hyp (K, Vs, 2)` px, weights `(K, Vs)` → `(K, hs, hs)`."""
        inside = ((hyp > 0) & (hyp < self.hs)).all(-1)
        weight = torch.where(inside, weight, 0)
        g = torch.arange(self.hs, dtype=hyp.dtype, device=hyp.device)
        gx = torch.exp(-(g - hyp[..., 0:1]).square() / (2 * self.joint_sigma**2))
        gy = torch.exp(-(g - hyp[..., 1:2]).square() / (2 * self.joint_sigma**2))
        return torch.einsum("ks,ksx,ksy->kyx", weight, gx, gy)

    def _rays(
        self, p: torch.Tensor, w: torch.Tensor, pose: torch.Tensor, rot: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Epipolar lines of the V−1 other views in pixel space.

        Returns origin and direction `(N, Vt, J, V−1, 2)` (pixels, pixels per unit z) and the
        line weights `(N, Vt, J, V−1)` (the source joint's confidence).
        """
        v = p.shape[1]
        others = torch.tensor([[s for s in range(v) if s != t] for t in range(v)],
                              device=p.device)  # (Vt, V−1)
        rel = torch.einsum("nvkl,nsml->nvskm", rot, rot)  # R_v R_sᵀ (N, Vt, Vs, 3, 3)
        rel = rel[:, torch.arange(v, device=p.device)[:, None], others]  # (N, Vt, V−1, 3, 3)
        # n_s / n_v: the 2D norm of each view, from the views' mean canonical pose.
        mean_pose = pose.mean(1)
        mean_pose = mean_pose - mean_pose[:, :1]
        proj = torch.einsum("nvkl,njl->nvjk", rot, mean_pose)[..., :2]
        norm = torch.linalg.vector_norm(proj.flatten(-2), dim=-1).clamp_min(1e-8)  # (N, V)
        k = norm[:, others] / norm[:, :, None]  # (N, Vt, V−1)
        ray0 = torch.cat((p, torch.zeros_like(p[..., :1])), -1)[:, others]  # (N, Vt, V−1, J, 3)
        o = torch.einsum("nvskm,nvsjm->nvjsk", rel, ray0)[..., :2]  # (N, Vt, J, V−1, 2)
        d = rel[..., :2, 2][:, :, None]  # (R_v R_sᵀ e_z)_xy (N, Vt, 1, V−1, 2)
        k = k[:, :, None, :, None]
        origin = self.to_pixels(k * o)
        direction = (k * d * self.hs).expand_as(origin)
        line_w = w[:, others].permute(0, 1, 3, 2)  # (N, Vt, J, V−1)
        return origin, direction, line_w

    def _epipolar_heatmap(
        self, origin: torch.Tensor, direction: torch.Tensor, weight: torch.Tensor
    ) -> torch.Tensor:
        """Sum of ridge heatmaps along the rays `(K, S, 2)` of the S other views → `(K, hs, hs)`."""
        g = torch.arange(self.hs, dtype=origin.dtype, device=origin.device)
        # x varies along the last axis, y along the one before (flat index = y·hs + x)
        rx = g - origin[..., 0:1]  # (K, S, hs)
        ry = g - origin[..., 1:2]
        dx, dy = direction[..., 0, None, None], direction[..., 1, None, None]  # (K, S, 1, 1)
        dd = dx * dx + dy * dy
        proj = rx[:, :, None, :] * dx + ry[:, :, :, None] * dy  # (K, S, hs, hs)
        z = torch.where(dd > 1e-12, proj / dd.clamp_min(1e-12), 0)
        z = z.clamp(-self.ray_extent, self.ray_extent)
        dist2 = (rx[:, :, None, :] - z * dx).square() + (ry[:, :, :, None] - z * dy).square()
        ridge = torch.exp(-dist2 / (2 * self.epipolar_sigma**2))
        (x0, x1), (y0, y1) = self.window
        inside_x = (g > x0 * self.hs) & (g < x1 * self.hs)
        inside_y = (g > y0 * self.hs) & (g < y1 * self.hs)
        ridge = ridge * (inside_y[:, None] & inside_x[None, :])
        # A line is "non-empty" when it crosses the window (ridge peak near its centre line).
        nonempty = (ridge.flatten(2).amax(-1) > 0.5) & (weight > 0)
        heat = torch.einsum("ks,ksyx->kyx", weight, ridge)
        single = nonempty.sum(-1) == 1
        return torch.where(single[:, None, None], 0, heat)
