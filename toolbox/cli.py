"""The `sv2tts` command line: one entry point, one module per subcommand under toolbox.commands."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from toolbox.outputs import Terminated, install_signal_handlers, restore_signal_handlers

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


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (exit code 2), pointing at --help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="sv2tts", description="SV2TTS voice-cloning toolbox")
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
    """Run one command. Exit codes: 0 done; 1 an error, reported as one line naming the file and the
    problem (an unexpected one too, with the traceback under -v); 2 usage; 130 Ctrl-C; 143 SIGTERM.
    Outputs are written through toolbox.outputs, so none of these leaves a partial file behind."""
    command, verbose = "sv2tts", False
    previous = install_signal_handlers()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        command, verbose = " ".join(filter(None, ["sv2tts", args.command])), args.verbose
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s")
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"{command}: terminated", file=sys.stderr)
        return 143
    except Exception as e:  # noqa: BLE001 - the one place where every error becomes one line
        return report_error(command, e, verbose)
    finally:
        restore_signal_handlers(previous)  # main() may run inside another program (tests)


def report_error(command: str, e: Exception, verbose: bool = False) -> int:
    """Print `e` as one line on stderr and return the exit code (1)."""
    if isinstance(e, user_errors()):
        message = str(e)
    elif isinstance(e, OSError):  # a file the user named, a full disk, a read-only folder...
        where = f"{e.filename}: " if e.filename else ""
        message = f"{where}{e.strerror or e}"
    elif isinstance(e, MemoryError):
        message = "out of memory (try a shorter text or input)"
    else:
        log.debug("unexpected error", exc_info=e)
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        hint = "" if verbose else " (run with -v for the traceback)"
        print(f"{command}: internal error: {type(e).__name__}: {first}{hint}", file=sys.stderr)
        return 1
    message = " ".join(message.strip().splitlines()) or type(e).__name__
    print(f"{command}: error: {message}", file=sys.stderr)
    return 1


def user_errors() -> tuple[type[Exception], ...]:
    """Exceptions whose message is meant for the user (shown without a traceback)."""
    from models.audio import AudioError
    from models.checkpoint import CheckpointError
    from models.text import TextError
    from models.text.phones import PhonesError
    from toolbox.outputs import OutputError

    return (UserError, AudioError, CheckpointError, TextError, PhonesError, OutputError)


if __name__ == "__main__":
    raise SystemExit(main())
