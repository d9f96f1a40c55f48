"""The `sv2tts` command line: one entry point, one module per subcommand under toolbox.commands.

Start-up stays fast (`sv2tts --help` and `--version` in well under half a second): this module and
every toolbox.commands / toolbox.bench module import only the standard library at module level, and
torch, scipy, librosa or Qt load inside a command's `run`. `sv2tts bench cli` measures it.

Every parser accepts `-q` and `-v`, before or after the subcommand; an epilog starting with
"examples:" is printed line by line. Compute commands take `--threads` (toolbox.cpu).
"""

from __future__ import annotations

import sys

try:  # Ctrl-C while the command line's own modules load is one line too, like any later interruption
    import argparse
    import contextlib
    import importlib
    import logging
    import os
    from collections.abc import Iterator

    from toolbox import __version__
    from toolbox.outputs import Terminated, install_signal_handlers, restore_signal_handlers
except KeyboardInterrupt:
    print("sv2tts: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

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
USER_ERRORS = [
    ("models.audio", "AudioError"),
    ("models.checkpoint", "CheckpointError"),
    ("models.text", "TextError"),
    ("models.text.phones", "PhonesError"),
    ("toolbox.outputs", "OutputError"),
]


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

    def error(self, message: str) -> None:  # type: ignore[override]
        """Usage errors on one line (exit code 2), pointing at --help."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


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
    """Run one command. Exit codes: 0 done; 1 an error, reported as one line naming the file and the
    problem (an unexpected one too, with the traceback under -v); 2 usage; 130 Ctrl-C; 143 SIGTERM.
    Outputs are written through toolbox.outputs, so none of these leaves a partial file behind."""
    command, verbose = "sv2tts", False
    previous = previous_threads = None
    try:
        previous = install_signal_handlers()
        from toolbox import cpu

        parser = build_parser()
        args = parser.parse_args(argv)
        command, verbose = " ".join(filter(None, ["sv2tts", args.command])), args.verbose
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
        with _environment(env):
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
        if previous_threads is not None:
            cpu.torch_threads(previous_threads)


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


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions whose message is meant for the user (shown without a traceback). Looked up only in
    modules already imported (an exception of a module never imported cannot have been raised), so
    that reporting an error never imports torch or librosa."""
    types: list[type[BaseException]] = [UserError]
    for module, name in USER_ERRORS:
        if module in sys.modules:
            types.append(getattr(sys.modules[module], name))
    return tuple(types)


def gui_main() -> int:
    """The `sv2tts-toolbox` GUI entry point (gui-scripts: no console window on Windows)."""
    return main(["toolbox", *sys.argv[1:]])


if __name__ == "__main__":  # python -m toolbox.cli: run the importable module's main, so that the
    # UserError that commands import from toolbox.cli is the class caught there (not __main__'s copy)
    from toolbox.cli import main as _main

    raise SystemExit(_main())
