"""The `sv2tts` command line: one entry point, one module per subcommand under toolbox.commands.

Start-up stays fast (`sv2tts --help` and `--version` in well under half a second): this module and
every toolbox.commands / toolbox.bench module import only the standard library at module level, and
torch, scipy, librosa or Qt load inside a command's `run`. `sv2tts bench cli` measures it.

Every parser accepts `-q` and `-v`, before or after the subcommand; an epilog starting with
"examples:" is printed line by line. Compute commands take `--threads` (toolbox.cpu).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator

from toolbox import __version__

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
# Exceptions shown as one line without a traceback: (module, class). Looked up only in modules already
# imported, so that catching them never imports torch or librosa.
USER_ERRORS = [("models.audio", "AudioError"), ("models.checkpoint", "CheckpointError")]


class UserError(Exception):
    """An error whose message is shown to the user as one line, without a traceback."""


class HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions as usual, but prints an epilog that starts with "examples:" line by line."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "\n".join(indent + line for line in text.strip("\n").splitlines())
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """An sv2tts parser: the examples formatter, and -q / -v accepted after any (sub)command too.

    Subparsers are made with the parent's class, so every level gets both. Below the top level they
    default to SUPPRESS, so a subcommand without them keeps what was given before it."""

    def __init__(self, *args, top: bool = False, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        default = False if top else argparse.SUPPRESS
        self.add_argument("-q", "--quiet", action="store_true", default=default,
                          help="only warnings and errors on stderr: no progress bars or status lines")
        self.add_argument("-v", "--verbose", action="store_true", default=default, help="debug logging")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="sv2tts", top=True, description="SV2TTS voice-cloning toolbox",
                    epilog="examples:\n"
                           "  sv2tts clone --voice ref.wav --text \"Hello there.\" -o out.wav\n"
                           "  echo \"Hello.\" | sv2tts clone --voice ref.wav --text-file - -o - | aplay\n"
                           "  sv2tts models list\n"
                           "  sv2tts toolbox\n"
                           "  sv2tts COMMAND --help      (each command's options and examples)")
    parser.add_argument("--version", action="version", version=f"sv2tts {__version__}")
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


def _user_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [UserError]
    for module, name in USER_ERRORS:
        if module in sys.modules:
            types.append(getattr(sys.modules[module], name))
    return tuple(types)


@contextlib.contextmanager
def _environment(updates: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of one command (main() is also called in-process)."""
    saved = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main(argv: list[str] | None = None) -> int:
    from toolbox import cpu

    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    env = {"TQDM_DISABLE": "1"} if args.quiet else {}
    if hasattr(args, "threads"):  # the compute commands
        try:
            env.update(cpu.thread_environment(args.threads))
        except ValueError as e:
            parser.error(str(e))
    previous_threads = cpu.torch_threads(int(env["OMP_NUM_THREADS"]) if "OMP_NUM_THREADS" in env else None)
    try:
        with _environment(env):
            return int(args.func(args) or 0)
    except _user_error_types() as e:
        print(f"sv2tts {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"sv2tts {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        cpu.torch_threads(previous_threads)


def gui_main() -> int:
    """The `sv2tts-toolbox` GUI entry point (gui-scripts: no console window on Windows)."""
    return main(["toolbox", *sys.argv[1:]])


if __name__ == "__main__":  # python -m toolbox.cli: run the importable module's main, so that the
    # UserError that commands import from toolbox.cli is the class caught there (not __main__'s copy)
    from toolbox.cli import main as _main

    raise SystemExit(_main())
