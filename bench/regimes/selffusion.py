"""Canonical self-fusion regime: CanonPose (Wandt et al.) → CVSF (Kim et al.), `regime=selffusion`.

Per frame and view, the 2D is canonicalised (root-centred, divided by its Frobenius norm) and
the lifter predicts a canonical pose P_c and a camera rotation R_c: the CanonPose lifter
(`forward_with_rotation`); a sequence lifter with `forward_features` + `head`, to which
this regime adds a rotation head (a linear map of the joint-averaged features to an axis-angle);
or any other lifter, beside which it trains a per-frame rotation MLP on the canonical 2D
(`rot_width` hidden units; a deviation from CanonPose's shared trunk, so every lifter runs).
Losses (`losses/canonical.py`; Wandt et al., Kim et al.): L_rep, L_view, L_cam (static rig),
then CVSF: the cross-view self-fusion module (`models.fusion.CrossViewFusion`) refines the
low-confidence 2D joints, L_furep / L_fuview reproject onto the refined 2D, and the second
lifting pass ("S2") on the refined 2D adds L_rep2 (its own reprojection onto the refined 2D),
L_con3D and L_agree.

Two-stage schedule (the paper's w1/w2): `loss.stage1` weights until epoch `stage2_epoch`, then
`loss.stage2`; the official code switches at epoch 100 of a 100-epoch run, so its second phase
never runs (quirk, fixed: `stage2_epoch` defaults to half of the run) and its learning rate is
then already 1e-7 — here the lr restarts at the switch (`restart_lr`). L_fu2Drep (input vs
refined 2D) has no gradient in the official code; it is logged, not optimised. The CanonPose
baseline is `fusion.enabled=false two_stage=false` (only L_rep, L_view, L_cam).

`loss.stage*.sup`: an optional supervised term (MPJPE of the un-normalised camera-frame
prediction against the 2.5D target) for pre-training on labelled source data; 0 by default.

Evaluation: the camera-frame pose R·P times the input's 2D Frobenius norm is in the 2D's
normalised units (weak perspective), so the base class's millimetre metrics apply; the pose is
only determined up to scale, so N-MPJPE / PA-MPJPE are the meaningful numbers (CanonPose).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from liftbench.bench.regimes.base import LiftingRegime
from liftbench.bench.regimes.consistency import multiview_input
from liftbench.geometry.skeletons import ROOT
from liftbench.losses.canonical import (
    camera_loss,
    canonicalize_2d,
    loss_con3d,
    loss_pass_agreement,
    view_losses,
)
from liftbench.losses.reprojection import loss_reprojection_scale_free, with_confidence
from liftbench.losses.supervised import loss_mpjpe
from liftbench.models.canonpose import rotation_matrix
from liftbench.models.flip import flip_average
from liftbench.models.fusion import CrossViewFusion

_TERMS = ("rep", "view", "cam", "furep", "fuview", "rep2", "con3d", "agree", "sup")
class SelfFusionRegime(LiftingRegime):
    """CanonPose / CVSF self-supervised multi-view training.

    Args:
        fusion: `CrossViewFusion` arguments plus `enabled` (default true).
        two_stage: run the second lifting pass on the refined 2D (CVSF "S2").
        stage2_epoch: first epoch with the stage-2 weights (default: half of `max_epochs`).
        fusion_frames: frames per clip (drawn at random each step) that go through the fusion
            module and the fusion / second-pass losses; None = all T. The CanonPose lifter is
            per-frame, so this only subsamples the costly heatmaps (64² per refined joint).
        refined_confidence: weight of a refined joint in the fusion losses (at least its
            detector confidence); None keeps the detector confidence.
        restart_lr: reset the learning rate to its initial value at the stage switch.
        seed: seed of L_cam's frame permutations.
        **kwargs: `LiftingRegime` arguments; `loss` has `stage1` and `stage2` weight dicts
            (keys `rep, view, cam, furep, fuview, rep2, con3d, agree, sup`).
    """

    regime_name = "selffusion"
    # The prediction R·P is determined up to scale only (its size comes from the input 2D's
    # Frobenius norm, not from a learnt depth scale), so its MPJPE is not comparable with the
    # other regimes' 2.5D x factor numbers.
    eval_scale = "up to scale (R·P x 2D norm x factor)"

    def __init__(
        self,
        fusion: dict[str, Any] | None = None,
        two_stage: bool = True,
        stage2_epoch: int | None = None,
        fusion_frames: int | None = 4,
        refined_confidence: float | None = 0.85,
        restart_lr: bool = True,
        rot_width: int = 128,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # keys and defaults of both stages: regime/selffusion.yaml (checked by the base class)
        self.stage_weights = (self.loss_cfg["stage1"], self.loss_cfg["stage2"])
        fusion = dict(fusion or {})
        self.fusion_enabled = bool(fusion.pop("enabled", True))
        self.fusion = CrossViewFusion(**fusion)
        self.two_stage = bool(two_stage) and self.fusion_enabled
        self.stage2_epoch = stage2_epoch
        if fusion_frames is not None and int(fusion_frames) < 1:
            raise ValueError(f"fusion_frames must be >= 1 or None, got {fusion_frames}")
        self.fusion_frames = None if fusion_frames is None else int(fusion_frames)
        self.refined_confidence = None if refined_confidence is None else float(refined_confidence)
        self.restart_lr = restart_lr
        self.generator = torch.Generator().manual_seed(int(seed))
        self.rot_head: nn.Module | None = None
        self.rot_net: nn.Module | None = None
        if not hasattr(self.lifter, "forward_with_rotation"):
            dim = getattr(self.lifter, "feature_dim", None)
            if dim and hasattr(self.lifter, "forward_features") and hasattr(self.lifter, "head"):
                self.rot_head = nn.Linear(dim, 3)
                last = self.rot_head
            else:
                # Deviation (named in the README): CanonPose predicts R from the pose network's
                # own trunk; a lifter exposing only `forward` gets a separate per-frame rotation
                # MLP on the canonical 2D, so that every registered lifter can train here.
                joints = int(getattr(self.lifter, "num_joints", 17))
                self.rot_net = nn.Sequential(
                    nn.Flatten(-2), nn.Linear(3 * joints, rot_width), nn.LeakyReLU(),
                    nn.Linear(rot_width, rot_width), nn.LeakyReLU(), nn.Linear(rot_width, 3),
                )
                last = self.rot_net[-1]
            nn.init.zeros_(last.weight)  # start at the identity rotation
            nn.init.zeros_(last.bias)

    @property
    def uses_3d_labels(self) -> bool:  # type: ignore[override]
        """Whether a stage weights the supervised term (training then reads the 3D targets).

        A standardised lifter then gets output statistics, as in the supervised regime.
        """
        return any(w["sup"] for w in self.stage_weights)

    # ----------------------------------------------------------------------------- lifting
    def pose_and_rotation(
        self, x: torch.Tensor, root: torch.Tensor | None = None, norm: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Canonical pose `(B, T, J, 3)` and rotations `(B, T, 3, 3)` from canonical `x`.

        `x` is `(B, T, J, 3)`: canonical x, y and confidence. `root` `(B, T, 2)` and `norm`
        `(B, T)` say where the canonical 2D lies in the input (`2D = canonical · norm + root`,
        `canonicalize_2d`); only a standardised lifter reads them (see below).
        """
        canon = x
        scale = None
        standardised = self.normalizer is not None and self.normalizer.is_fitted
        if standardised:
            # A standardised lifter was trained on width-normalised 2D, not on canonical 2D: it
            # sees the 2D where it is in the input (root, norm), as in training, so that a
            # supervised checkpoint predicts here exactly what it predicts in its own regime.
            # Without them (a caller holding canonical 2D only) the canonical 2D is placed as
            # the training set's mean person (its root position and Frobenius size); the 2.5D
            # convention is equivariant to image translation and scale, the lifter only roughly.
            if root is None or norm is None:
                mean = self.normalizer.in_mean.to(x.dtype)  # (J, 2)
                root = mean[ROOT].expand(*x.shape[:-2], 2)
                norm = (mean - mean[ROOT]).norm().clamp_min(1e-6).expand(x.shape[:-2])
            scale = norm.to(x.dtype)[..., None, None]
            placed = torch.cat([x[..., :2] * scale + root.to(x.dtype)[..., None, :], x[..., 2:]],
                               dim=-1)
            x = self.normalizer.normalize_input(placed)
        if self.rot_net is not None:
            pose, rotvec = self.lifter(x), self.rot_net(canon)
        elif self.rot_head is None:
            pose, rotvec = self.lifter.forward_with_rotation(x)
        else:
            feats = self.lifter.forward_features(x)
            pose, rotvec = self.lifter.head(feats), self.rot_head(feats.mean(-2))
        rot = rotation_matrix(rotvec)
        if standardised:
            # The output statistics are per camera-frame coordinate (the supervised target R·P):
            # un-z-score R·P, divide by the 2D size, rotate back by Rᵀ to the canonical pose.
            cam = self.normalizer.denormalize_output(pose @ rot.transpose(-1, -2)) / scale
            pose = cam @ rot
        return pose, rot

    def lift_camera(self, x: torch.Tensor) -> torch.Tensor:
        """Camera-frame pose `(B, T, J, 3)` in the input's normalised units from raw 2D + conf.

        `x` `(B, T, J, 3)` (width-normalised x, y, confidence) is canonicalised, lifted, rotated
        by R and multiplied back by the 2D's Frobenius norm (weak perspective).
        """
        x = with_confidence(x, "input")
        canon, root, norm = canonicalize_2d(x[..., :2], ROOT)
        pose, rot = self.pose_and_rotation(torch.cat((canon, x[..., 2:3]), -1), root, norm)
        cam = pose @ rot.transpose(-1, -2)
        return cam * norm[..., None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`lift_camera`: the regime's prediction `(B, T, J, 3)` for raw input `(B, T, J, 3)`."""
        return self.lift_camera(x)

    def predict_pose(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluation prediction: flip-averaged `lift_camera` (when `flip_tta`), root at 0."""
        pred = flip_average(self.lift_camera, x) if self.flip_tta else self.lift_camera(x)
        return pred - pred[..., ROOT : ROOT + 1, :]

    # ----------------------------------------------------------------------------- schedule
    def _switch_epoch(self) -> int:
        if self.stage2_epoch is not None:
            return int(self.stage2_epoch)
        max_epochs = getattr(self.trainer, "max_epochs", None) if self._trainer else None
        return math.ceil(max_epochs / 2) if max_epochs and max_epochs > 0 else 1 << 30

    def current_stage(self) -> int:
        """1 before `stage2_epoch`, else 2."""
        epoch = self.current_epoch if self._trainer else 0
        return 2 if epoch >= self._switch_epoch() else 1

    def on_train_epoch_start(self) -> None:
        """At the stage switch, restart the learning rate (`restart_lr`)."""
        if self.restart_lr and self.current_epoch == self._switch_epoch() and self.current_epoch:
            for opt in self.trainer.optimizers:
                for group in opt.param_groups:
                    group["lr"] = group.get("initial_lr", group["lr"])

    # ----------------------------------------------------------------------------- training
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """The stage's weighted sum of the CanonPose / CVSF losses on a multi-view batch."""
        x = multiview_input(batch, self.regime_name)
        b, v, t, j, _ = x.shape
        w = self.stage_weights[self.current_stage() - 1]
        conf = x[..., 2]
        canon, root, norm = canonicalize_2d(x[..., :2], ROOT)
        pose, rot = self.pose_and_rotation(torch.cat((canon, conf[..., None]), -1).flatten(0, 1),
                                           root.flatten(0, 1), norm.flatten(0, 1))
        pose, rot = pose.view(b, v, t, j, 3), rot.view(b, v, t, 3, 3)
        valid = batch.get("valid")
        terms: dict[str, torch.Tensor] = {}
        terms["rep"], terms["view"] = view_losses(canon, conf, pose, rot, valid)
        terms["cam"] = camera_loss(canon, conf, pose, rot, self.generator, valid)
        if w["sup"]:
            cam = pose @ rot.transpose(-1, -2) * norm[..., None, None]
            cam = cam - cam[..., ROOT : ROOT + 1, :]
            terms["sup"] = loss_mpjpe(cam, batch["target"], valid)
        if self.fusion_enabled:
            keep = torch.arange(t, device=x.device)
            if self.fusion_frames is not None and self.fusion_frames < t:
                keep = torch.randperm(t, generator=self.generator)[: self.fusion_frames]
                keep = keep.sort().values.to(x.device)
            fc, fw, fp, fr = canon[:, :, keep], conf[:, :, keep], pose[:, :, keep], rot[:, :, keep]
            fv = None if valid is None else valid[:, :, keep]
            order = (0, 2, 1, 3, 4)  # the module works per frame: (B, T, V, J, ·)
            refined, replaced = self.fusion(
                fc.permute(order), fw.transpose(1, 2), fp.detach().permute(order),
                fr.detach().permute(0, 2, 1, 3, 4),
            )
            refined = refined.permute(order)
            # The refined joints are trusted at `refined_confidence` in the fusion losses: with
            # their (low) detector confidence they would barely enter them (the released code's
            # choice is not recoverable).
            rw = fw
            if self.refined_confidence is not None:
                rw = torch.where(replaced.transpose(1, 2),
                                 fw.clamp_min(self.refined_confidence), fw)
            terms["furep"], terms["fuview"] = view_losses(refined, rw, fp, fr, fv)
            with torch.no_grad():
                terms["fu2drep"] = loss_reprojection_scale_free(fc, refined, fw, fv)
                terms["refined_frac"] = replaced.float().mean()
            if self.two_stage:
                canon2, _, norm2 = canonicalize_2d(refined, ROOT)
                # placed where the view's input 2D is (refined is in its canonical units)
                pose2, rot2 = self.pose_and_rotation(
                    torch.cat((canon2, fw[..., None]), -1).flatten(0, 1),
                    root[:, :, keep].flatten(0, 1), (norm2 * norm[:, :, keep]).flatten(0, 1))
                tk = keep.numel()
                pose2, rot2 = pose2.view(b, v, tk, j, 3), rot2.view(b, v, tk, 3, 3)
                rep2, view2 = view_losses(canon2, rw, pose2, rot2, fv)
                terms["rep2"] = rep2 + view2
                terms["con3d"] = loss_con3d(pose2)
                terms["agree"] = loss_pass_agreement(fp, pose2, fw)
        total = sum(w[k] * terms[k] for k in _TERMS if k in terms and w[k])
        terms["loss"] = total if isinstance(total, torch.Tensor) else pose.sum() * 0.0
        terms["stage"] = torch.tensor(float(self.current_stage()))
        self.log_train(terms, batch_size=b)
        return terms["loss"]
