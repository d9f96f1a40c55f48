"""`sv2tts toolbox`: the desktop voice-cloning toolbox."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from toolbox.commands.argtypes import seed_type

EXAMPLES = """examples:
  sv2tts toolbox
  sv2tts toolbox --datasets-root ~/datasets --seed 1
  sv2tts toolbox --demo            # tiny stand-in models: try the interface without model files
  xvfb-run sv2tts toolbox          # on a machine without a screen
  python -m toolbox                # the same app"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("toolbox", help="open the desktop toolbox (record, clone, compare voices)",
                       epilog=EXAMPLES)
    p.add_argument("--datasets-root", "-d", type=Path, default=None,
                   help="folder holding LibriSpeech/LibriTTS/VCTK/VoxCeleb/LJSpeech to browse")
    p.add_argument("--seed", type=seed_type, default=None, help="preset the seed for reproducible generation")
    p.add_argument("--cpu", action="store_true",
                   help="run the models on the CPU even if a GPU (CUDA, or Apple's MPS) is present")
    p.add_argument("--demo", action="store_true",
                   help="use tiny stand-in models (no model files needed) to try the interface")
    p.add_argument("--exit-after", type=float, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def display_problem(platform: str = sys.platform, environ: os._Environ | dict = os.environ) -> str | None:
    """Why Qt could not open a window here, or None. Qt itself aborts the process (exit 134, a libxcb
    message) when a Linux/BSD session has no display server; this says so in one line first."""
    if platform.startswith(("win", "darwin", "cygwin")):
        return None
    qpa = environ.get("QT_QPA_PLATFORM", "")
    if qpa and not qpa.startswith(("xcb", "wayland")):
        return None  # offscreen, minimal, eglfs, vnc, ...: no display server needed
    if environ.get("WAYLAND_DISPLAY") or environ.get("DISPLAY"):
        return None
    return ("no display: neither DISPLAY nor WAYLAND_DISPLAY is set. Run it in a desktop session, "
            "over `ssh -X`, under `xvfb-run sv2tts toolbox`, or headless with QT_QPA_PLATFORM=offscreen")


def run(args: argparse.Namespace) -> int:
    from toolbox.cli import UserError

    if args.datasets_root is not None and not args.datasets_root.is_dir():
        raise UserError(f"--datasets-root {args.datasets_root}: no such folder")
    problem = display_problem()
    if problem is not None:
        raise UserError(problem)
    device = "cpu" if args.cpu else "auto"  # resolved on the model worker: importing torch here delays the window
    engine = None
    if args.demo:
        from toolbox.gui.testing import FakeEngine

        engine = FakeEngine()
    from toolbox.gui import launch

    return launch(args.datasets_root, args.seed, device, engine=engine, exit_after=args.exit_after)
