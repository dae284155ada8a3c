"""`SyntheticDataModule` ("synthetic"): the embedded multi-view capture as training data.

Takes are motion × subject × variant (`capture.iter_takes`): `subjects` synthetic people with
anthropometric body proportions (`bodies.py`), each motion performed by each of them in
`variants` takes that differ in mirror image, speed and camera rig. The split protocol
(`splits.py`) decides which takes form each set:

- `train`: labelled source-domain takes;
- `val`: in-domain validation (held-out subjects of the training motions);
- `adapt`: target-domain takes — the unlabelled training data of the adaptation regimes and
  the labelled data of the supervised upper bound (for `in-domain` / `random`: the train takes);
- `test`: held-out takes (for the domain splits: the adapt motions, other subjects and rigs).

Only the takes some set uses are generated. Generated clips are cached under
`cache_dir/<config hash>/` as `.npy` files, so a second start with the same configuration only
loads arrays. Batches follow the contract in `datamodules/clips.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from liftbench.datamodules.clip_datamodule import ClipDataModule
from liftbench.datamodules.registry import register_datamodule
from liftbench.datamodules.synthetic.bodies import sample_body
from liftbench.datamodules.synthetic.bvh_mapping import bvh_motion_options
from liftbench.datamodules.synthetic.capture import (
    SPEED_RANGE,
    motion_label,
    resolve_motions,
    synthesize,
)
from liftbench.datamodules.synthetic.rigs import RIG_CHOICES
from liftbench.datamodules.synthetic.splits import PROTOCOLS, SplitPlan, plan_split

# Bump when the generated arrays change meaning, so stale caches are not reused.
CACHE_VERSION = 2
# Version of the BVH -> H36M-17 mapping (`bvh_topology`), in the cache key of BVH motions only.
BVH_MAPPER_VERSION = 2


@register_datamodule("synthetic")
class SyntheticDataModule(ClipDataModule):
    """Synthetic multi-view capture from DeepMimic (or BVH) motion, cached on disk.

    Args:
        motions: `"all"`, `"daily"`, `"sports"`, or a list of clip names / BVH paths.
        split: `"daily->sports"`, `"sports->daily"` (source group -> target group, subject-
            disjoint sets, test motions = adapt motions), `"in-domain"` (held-out subjects,
            all motions) or `"random"` (held-out takes); see `splits.py`.
        views: 1 (single-view samples) or V >= 2 (every V-combination of the rig's cameras).
        cameras: cameras per rig (2–8), >= `views`.
        frames: clip length T.
        stride: frames between training clip starts (default T // 3, as MotionBERT).
        test_stride: frames between evaluation clip starts (default T, non-overlapping).
        rig: `"mixed"` (ring / random / broadcast drawn per take), or one kind for every take:
            `"ring"`, `"random"`, `"broadcast"`, `"panning"` (see `rigs.make_rig`).
        noise: `"clean"` (ground-truth 2D), `"detector"` or `"hard"` (see `detector.py`).
        distortion: give the cameras mild lens distortion.
        subjects: synthetic subjects `S1..SN` (`bodies.sample_body`); the domain splits need
            4 for subject-disjoint sets, in-domain 3 (fewer: sets disjoint by take).
        variants: takes per motion × subject (mirror / speed / rig draws).
        mirror: alternate original and left/right-mirrored variants.
        speed: `(low, high)` playback-speed range of the variants; `(1, 1)` = original speed.
        fps: frame rate the motion is resampled to, Hz.
        normalisation: `"width"` or `"crop"` (see `clips.build_clips`).
        flip: random horizontal-flip augmentation of training batches.
        train_on: `"train"` (labelled source-domain takes) or `"adapt"` (the target-domain takes
            that adaptation regimes train on without their 3D).
        holdout: fraction of each subject pool held out (val / test subjects), at least one;
            of each motion's takes when the sets are disjoint by take.
        batch_size: clips per batch.
        num_workers: DataLoader workers (0 = in-process, fastest for these cached arrays).
        seed: generation, split and augmentation seed.
        cache_dir: cache root (default `clip_datamodule.default_cache_dir("synthetic")`).
        bvh_map: for BVH motions, H36M joint → BVH joint overrides: a dict or the path of a
            JSON file holding one (see `bvh_mapping.map_bvh`).
        flavour: how BVH motions are mapped: `"auto"` (hierarchy topology and a standing
            pose, names as hints) or a name table of `bvh_mapping.NAME_MAPS` (`"cmu"`, `"mixamo"`,
            `"generic"`).
    """

    name = "synthetic"

    def __init__(
        self,
        motions: str | list[str] = "all",
        split: str = "daily->sports",
        views: int = 1,
        cameras: int = 4,
        frames: int = 27,
        stride: int | None = None,
        test_stride: int | None = None,
        rig: str = "mixed",
        noise: str = "detector",
        distortion: bool = False,
        subjects: int = 8,
        variants: int = 2,
        mirror: bool = True,
        speed: tuple[float, float] | list[float] = SPEED_RANGE,
        fps: float = 50.0,
        normalisation: str = "width",
        flip: bool = True,
        train_on: str = "train",
        holdout: float = 0.25,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        cache_dir: str | Path | None = None,
        bvh_map: str | Path | dict[str, str] | None = None,
        flavour: str = "auto",
    ) -> None:
        if split not in PROTOCOLS:
            raise ValueError(f"split must be one of {', '.join(map(repr, PROTOCOLS))}, "
                             f"got {split!r}")
        if not 1 <= views <= cameras <= 8:
            raise ValueError(
                f"need 1 <= views <= cameras <= 8, got views={views}, cameras={cameras}"
            )
        if frames < 1 or subjects < 1 or variants < 1 or not 0 < holdout < 1:
            raise ValueError("frames, subjects and variants must be >= 1 and holdout in (0, 1)")
        if rig not in RIG_CHOICES:
            raise ValueError(f"rig must be one of {', '.join(RIG_CHOICES)}, got {rig!r}")
        speed = (float(speed[0]), float(speed[1]))
        if not 0 < speed[0] <= speed[1]:
            raise ValueError(f"speed must be (low, high) with 0 < low <= high, got {speed}")
        super().__init__(
            views=views, frames=frames, stride=stride, test_stride=test_stride,
            normalisation=normalisation, flip=flip, train_on=train_on, batch_size=batch_size,
            num_workers=num_workers, seed=seed, cache_dir=cache_dir,
        )
        self.config.update({
            "version": CACHE_VERSION, "motions": resolve_motions(motions), "split": split,
            "cameras": cameras, "rig": rig, "noise": noise, "distortion": distortion,
            "subjects": subjects, "variants": variants, "mirror": bool(mirror),
            "speed": list(speed), "fps": fps, "holdout": holdout, "seed": seed,
        })
        bvh_options = bvh_motion_options(bvh_map, flavour)
        if bvh_options != {"flavour": "auto"}:  # older caches keep their keys
            self.config["bvh"] = bvh_options
        if any(str(m).lower().endswith(".bvh") for m in self.config["motions"]):
            # takes from BVH files are rebuilt when the topology mapping changes (older
            # mappings read some hierarchies differently, and Z-up files as Y-up)
            self.config["bvh_mapper"] = BVH_MAPPER_VERSION
        self.split = split

    def cache_config(self) -> dict[str, Any]:
        """The generation configuration (`self.config`)."""
        return self.config

    def source_2d(self) -> str:
        """`"gt"` for clean 2D, else `"det:synthetic-<noise>"`."""
        noise = self.config["noise"]
        return "gt" if noise == "clean" else f"det:synthetic-{noise}"

    def plan(self) -> SplitPlan:
        """The take assignment of this configuration (cheap: nothing is generated)."""
        cfg = self.config
        return plan_split(
            cfg["split"], [motion_label(m) for m in cfg["motions"]], cfg["subjects"],
            cfg["variants"], cfg["holdout"], cfg["seed"],
        )

    def write_clips(self, folder: Path) -> dict[str, Any]:
        """Generate the takes some set uses and write every set's clip arrays into `folder`."""
        cfg = self.config
        plan = self.plan()
        needed = plan.needed()
        records = synthesize(
            cfg["motions"], subjects=cfg["subjects"], rig=cfg["rig"], cameras=cfg["cameras"],
            noise=cfg["noise"], distortion=cfg["distortion"], fps=cfg["fps"], seed=cfg["seed"],
            variants=cfg["variants"], mirror=cfg["mirror"], speed=tuple(cfg["speed"]),
            select=lambda a, s, v: (a, s, v) in needed,
            bvh_options=cfg.get("bvh", {"flavour": "auto"}),
        )
        by_key = {(r.action, r.subject, int(r.labels["variant"])): r for r in records}
        actions = sorted({r.action for r in records})
        subjects = [f"S{k + 1}" for k in range(cfg["subjects"])]
        clips = {}
        for name, keys in plan.sets.items():
            arrays = self.build_set(name, [by_key[k] for k in keys], actions, subjects)
            clips[name] = int(len(arrays["input"]))
            self.save_set(folder, name, arrays)
        bodies = [sample_body(k, cfg["seed"]) for k in range(cfg["subjects"])]
        return {
            "config": cfg, "actions": actions, "subjects": subjects,
            "split": plan.split, "disjoint": plan.disjoint,
            "takes": {k: [by_key[key].take for key in v] for k, v in plan.sets.items()},
            "set_subjects": plan.subjects,
            "set_motions": {k: plan.motions(k) for k in plan.sets},
            "clips": clips,
            "bodies": {b.name: {"sex": b.sex, "stature_m": b.stature} for b in bodies},
            "variants": {r.take: {k: v for k, v in r.labels.items() if k != "group"}
                         for r in records},
        }

    def protocol(self) -> dict[str, Any]:
        """Protocol fields of results on this data (stored in every run record).

        Besides the base fields and the generation settings: `disjoint` (`"subjects"` or
        `"takes"`), and per set (`train`, `val`, `adapt`, `test`) its `set_subjects`,
        `set_motions`, `set_takes` (count) and `set_clips` (count of samples). Loads (or
        generates) the cache if needed.
        """
        if not self.meta:
            self.setup()
        cfg, meta = self.config, self.meta
        return {
            **super().protocol(),
            "rig": cfg["rig"], "cameras": cfg["cameras"], "motions": cfg["motions"],
            "subjects": cfg["subjects"], "variants": cfg["variants"], "mirror": cfg["mirror"],
            "speed": cfg["speed"], "fps": cfg["fps"], "data_seed": cfg["seed"],
            "disjoint": meta["disjoint"], "set_subjects": meta["set_subjects"],
            "set_motions": meta["set_motions"],
            "set_takes": {k: len(v) for k, v in meta["takes"].items()},
            "set_clips": dict(meta["clips"]),
        }
