"""`liftbench convert`: official checkpoints ↔ liftbench checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  liftbench convert best_epoch.bin --model motionbert --out motionbert_h36m.ckpt
  liftbench convert motionagformer-b-h36m.pth.tr --model motionagformer_b --out magf_b.ckpt
  liftbench convert small.pth.tr --model kasportsformer --config sportspose.yaml --out k.ckpt
  liftbench convert runs/<run>/checkpoints/best.ckpt --to-official --out best_epoch.bin
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `convert`."""
    p = sub.add_parser(
        "convert", help="convert an official checkpoint to a liftbench one (or back)",
        description="Convert a checkpoint saved by an official training script (MotionBERT, "
        "MotionAGFormer, KASportsFormer, VideoPose3D) into a liftbench checkpoint that records "
        "its configuration (so `liftbench predict X.ckpt` needs nothing else), or with "
        "--to-official a liftbench checkpoint into the official layout. Official files are "
        "read with torch.load(weights_only=True); any pickled object other than tensors, plain "
        "values and numpy scalars is refused.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("checkpoint", type=Path, help="the checkpoint to convert")
    p.add_argument("--model", default=None,
                   help="liftbench lifter name (required for an official checkpoint), e.g. "
                   "motionbert, motionagformer_b, kasportsformer, videopose3d")
    p.add_argument("--config", type=Path, default=None,
                   help="the official YAML config the checkpoint was trained with "
                   "(default: the paper configuration)")
    p.add_argument("--to-official", action="store_true",
                   help="export a liftbench checkpoint in the official layout instead")
    p.add_argument("--out", type=Path, required=True, help="file to write")
    p.set_defaults(func=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    from liftbench.bench.official import convert_official, export_official

    if args.to_official:
        if args.config is not None:
            raise ValueError("--config applies to official checkpoints; a liftbench checkpoint "
                             "records its own configuration")
        out = export_official(args.checkpoint, args.out, name=args.model)
        print(f"wrote {out} (official layout; load it with the official code's checkpoint "
              "loader)")
        return 0
    if args.model is None:
        from liftbench.models.official import official_lifters

        raise ValueError(f"an official checkpoint needs --model NAME (one of "
                         f"{', '.join(official_lifters())})")
    out = convert_official(args.checkpoint, args.model, args.out, config=args.config)
    print(f"wrote {out} (liftbench checkpoint of {args.model}; "
          f"try `liftbench predict {out} KEYPOINTS`)")
    return 0
