"""`liftbench export`: a checkpoint's prediction as an ONNX or TorchScript file."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  liftbench export runs/<run>/checkpoints/best.ckpt --format onnx --out lifter.onnx
  liftbench export best.ckpt --format torchscript --out lifter.pt --no-flip
  liftbench export best_epoch.bin --model motionbert --format onnx --out motionbert.onnx

The file maps one window pose2d (B, T, 17, 3) (x, y normalised by the image width, confidence)
to pose3d (B, T, 17, 3) root-relative 2.5D, as `liftbench predict` lifts each window; its
metadata (ONNX metadata_props, TorchScript extra file liftbench_contract.json) states the shapes,
units, joint order, T, flip and how predict windows a longer sequence.
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `export`."""
    p = sub.add_parser(
        "export", help="export a checkpoint's prediction to ONNX or TorchScript",
        description="Export what `liftbench predict` runs on one window (the checkpoint's "
        "normaliser, lifter, head, test-time flip and root handling) as an ONNX or TorchScript "
        "file, then run the file on test inputs and report max |exported - PyTorch|.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("checkpoint", type=Path,
                   help="checkpoint (runs/<run>/checkpoints/best.ckpt), or an official one "
                   "with --model")
    p.add_argument("--format", choices=("onnx", "torchscript"), default="onnx",
                   help="onnx (needs onnx; onnxruntime verifies it) or torchscript "
                   "(default onnx)")
    p.add_argument("--out", type=Path, required=True,
                   help="file to write (.onnx for ONNX; e.g. .pt for TorchScript)")
    p.add_argument("--model", default=None,
                   help="lifter of an official checkpoint (e.g. motionbert, motionagformer_b)")
    p.add_argument("--config", type=Path, default=None,
                   help="official YAML config of that checkpoint (default: paper config)")
    p.add_argument("--no-flip", action="store_true",
                   help="export without test-time flip averaging")
    p.add_argument("--no-verify", action="store_true",
                   help="skip running the exported file against PyTorch")
    p.set_defaults(func=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    from liftbench.bench.export import export_checkpoint

    result = export_checkpoint(args.checkpoint, args.out, fmt=args.format,
                               flip=False if args.no_flip else None, model=args.model,
                               config=args.config, verify=not args.no_verify)
    c = result.contract
    t = f"T={c['frames']}" if c["frames"] else "any T"
    print(f"exported {c['lifter']} ({c['regime']} regime, {t}, flip "
          f"{'on' if c['flip'] else 'off'}) to {result.format} in {result.export_seconds:.2f} s: "
          f"{c['input_name']} {c['input_shape']} -> {c['output_name']} {c['output_shape']}")
    if result.max_abs_diff is not None:
        runner = "onnxruntime" if result.format == "onnx" else "torchscript"
        shapes = ", ".join(str(list(s)) for s in result.verified_shapes)
        print(f"verified: max |{runner} - torch| = {result.max_abs_diff:.3g} on inputs {shapes}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"wrote {result.path}")
    return 0
