"""The `sv2tts` command line: one entry point, one module per subcommand under toolbox.commands."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from models.audio import AudioError
from models.checkpoint import CheckpointError

log = logging.getLogger(__name__)

# Subcommand modules, in help order. Each has register(subparsers).
COMMANDS = [
    "toolbox",
    "embed",
    "clone",
    "vocode",
    "models",
    "bench",
    "train",
    "eval",
    "corpus",
    "preprocess",
]


class UserError(Exception):
    """An error whose message is shown to the user as one line, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sv2tts", description="SV2TTS voice-cloning toolbox")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"toolbox.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"toolbox.commands.{name}":
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UserError, AudioError, CheckpointError) as e:
        print(f"sv2tts {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sv2tts {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
