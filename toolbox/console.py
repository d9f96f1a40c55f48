"""The command line's standard streams: `-` for text from stdin and WAV audio to stdout, and status
lines on stderr that `-q` silences. Standard library only at import (see toolbox.cli)."""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterable
from pathlib import Path

STD = "-"


def is_std(path: str | Path | None) -> bool:
    """True for the `-` that names standard input or output."""
    return path is not None and str(path) == STD


def status(args: argparse.Namespace, message: str) -> None:
    """A one-line report on stderr (what was written, how long it took), unless -q was given."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def read_text(path: Path, what: str = "--text-file") -> str:
    """The UTF-8 text of `path`, or of standard input for `-` (a byte-order mark is dropped)."""
    from toolbox.cli import UserError

    name = "standard input" if is_std(path) else str(path)
    try:
        if is_std(path):
            if sys.stdin is None or sys.stdin.isatty():
                raise UserError(f"{what} -: standard input is a terminal; pipe the text in "
                                f"(echo \"Hello.\" | sv2tts ...)")
            data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        else:
            data = Path(path).read_bytes()
        return data.decode("utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{name}: a folder, not a text file") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{name}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise UserError(f"{name}: cannot read it ({e.strerror})") from None


def check_stdout() -> None:
    """Refuse binary audio on a terminal before any work is done."""
    from toolbox.cli import UserError

    if sys.stdout is None or sys.stdout.isatty():
        raise UserError("-o -: standard output is a terminal; redirect it (> out.wav) or pipe it (| aplay)")


def write_wav_stdout(chunks: Iterable, sample_rate: int, subtype: str = "PCM_16") -> float:
    """Write float audio chunks to stdout as one mono WAV file; returns its duration in seconds.

    A WAV header holds the data size, and a pipe cannot be rewound to fill it in, so the audio is
    collected first (16 kHz 16-bit: 32 kB per second) and written in one go."""
    import numpy as np
    import soundfile as sf

    from toolbox.cli import UserError

    parts = [np.clip(np.asarray(c, dtype=np.float32), -1.0, 1.0) for c in chunks]
    wav = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, wav, sample_rate, format="WAV", subtype=subtype)
    out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else sys.stdout
    try:
        out.write(buffer.getvalue())
        out.flush()
    except BrokenPipeError:
        raise UserError("standard output was closed before the audio was written") from None
    return len(wav) / sample_rate
