"""`sv2tts toolbox`: the desktop voice-cloning toolbox."""

from __future__ import annotations

import argparse
from pathlib import Path

from toolbox.commands.argtypes import seed_type


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("toolbox", help="open the desktop toolbox (record, clone, compare voices)")
    p.add_argument("--datasets-root", "-d", type=Path, default=None,
                   help="folder holding LibriSpeech/LibriTTS/VCTK/VoxCeleb/LJSpeech to browse")
    p.add_argument("--seed", type=seed_type, default=None, help="preset the seed for reproducible generation")
    p.add_argument("--cpu", action="store_true", help="run the models on the CPU even if a GPU is present")
    p.add_argument("--demo", action="store_true",
                   help="use tiny stand-in models (no model files needed) to try the interface")
    p.add_argument("--exit-after", type=float, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from toolbox.cli import UserError

    if args.datasets_root is not None and not args.datasets_root.is_dir():
        raise UserError(f"--datasets-root {args.datasets_root}: no such folder")
    device = "cpu" if args.cpu else "auto"  # resolved on the model worker: importing torch here delays the window
    engine = None
    if args.demo:
        from toolbox.gui.testing import FakeEngine

        engine = FakeEngine()
    from toolbox.gui import launch

    return launch(args.datasets_root, args.seed, device, engine=engine, exit_after=args.exit_after)
