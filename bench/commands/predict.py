"""`liftbench predict`: lift a 2D keypoint file with a trained checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `predict`."""
    p = sub.add_parser(
        "predict", help="lift a 2D keypoint file (npz/JSON) to 3D with a checkpoint",
        description="Lift a 2D keypoint file to 3D poses with a `liftbench fit` checkpoint. "
        "Writes OUT.npz and OUT.json (pose3d (V, T, 17, 3), normalised 2.5D units) and, with "
        "--render, PNG frames, a GIF or an MP4 of the 2D input beside the 3D prediction.",
    )
    p.add_argument("checkpoint", type=Path,
                   help="checkpoint (runs/<run>/checkpoints/best.ckpt), or an official one "
                   "with --model")
    p.add_argument("--model", default=None,
                   help="lifter of an official checkpoint (e.g. motionbert, motionagformer_b)")
    p.add_argument("--config", type=Path, default=None,
                   help="official YAML config of that checkpoint (default: paper config)")
    p.add_argument("keypoints", type=Path,
                   help="2D keypoints: .npz (as `data synth`) / .json, or OpenPose (file or "
                   "folder of frames), COCO/MMPose/RTMLib, AlphaPose, Halpe JSON, .npy arrays")
    p.add_argument("--joint-set", default=None,
                   help="the file's skeleton when the data cannot say it (e.g. coco17, h36m17, "
                   "body25, body25b)")
    p.add_argument("--video", default=None, metavar="NAME",
                   help="the clip of a VideoPose3D 2D archive that holds several: "
                   "SUBJECT/ACTION#k (Human3.6M layout, camera k) or VIDEO (custom layout)")
    p.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"), default=None,
                   help="image size in pixels when the file does not store it")
    p.add_argument("--out", type=Path, default=None,
                   help="output stem: writes STEM.npz and STEM.json (a .npz/.json suffix is "
                   "replaced, any other kept; default: <keypoints stem>_3d beside the input)")
    p.add_argument("--no-flip", action="store_true", help="disable test-time flip averaging")
    p.add_argument("--precision", default="32-true", choices=("32-true", "bf16-mixed", "auto"),
                   help="32-true (default), bf16-mixed (autocast), or auto: bf16-mixed where "
                   "the CPU has native bf16 and the lifter's bf16 parity is measured")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the lifter's layers first (pays off on long sequences)")
    p.add_argument("--render", type=Path, default=None, metavar="PATH",
                   help="also draw it: a .gif, .mp4 (needs ffmpeg) or a folder of PNG frames")
    p.add_argument("--view", type=int, default=0, help="view to render (default 0)")
    p.add_argument("--every", type=int, default=1, help="render every N-th frame (default 1)")
    p.set_defaults(func=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    from liftbench.bench.outputs import staged
    from liftbench.bench.predict import predict_file, save_prediction

    if args.render is not None:
        from liftbench.bench.render import check_render_target, render_prediction

        check_render_target(args.render, args.every)  # before the lifting, not after it
    result = predict_file(args.checkpoint, args.keypoints, flip=False if args.no_flip else None,
                          joint_set=args.joint_set,
                          image_size=tuple(args.image_size) if args.image_size else None,
                          model=args.model, config=args.config,
                          video=args.video, precision=args.precision, compile=args.compile)
    out = args.out or args.keypoints.with_name(args.keypoints.stem + "_3d")
    with staged() as stage:  # all outputs appear together, or none after an error
        paths = save_prediction(result, out, stage)
        if args.render is not None:
            target = args.render
            if target.suffix in (".gif", ".mp4"):
                render_prediction(result, stage.path(target), view=args.view, every=args.every)
            else:
                folder = target.parent if target.suffix == ".png" else target
                render_prediction(result, stage.folder(folder), view=args.view,
                                  every=args.every)
            paths.append(target)
    v, t = result["pose3d"].shape[:2]
    print(f"lifted {v} view(s) x {t} frames with {result['lifter']} "
          f"(flip TTA {'on' if result['flip_tta'] else 'off'}; {result['precision']}: "
          f"{result['precision_reason']})")
    for note in result.get("notes", []):
        print(f"note: {note}")
    conf = result.get("confidence")
    if conf:
        print(f"confidence: {conf['scale']}; {conf['below_threshold']} of {conf['joints']} "
              f"joints below {conf['threshold']}")
    for path in paths:
        print(f"wrote {path}")
    return 0
