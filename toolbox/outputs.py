"""Every output file of the CLI and the GUI is written here, one way.

Policy (the same for every command):

* The destination is checked **before any work**: a known suffix, not a directory, not an existing
  file unless ``force``, an existing parent folder (missing folders are never created: a typo in a
  path should not leave a new folder behind), room for the estimated size, and a writable folder
  (proved by creating the temporary file right away, which also catches read-only mounts that
  ``os.access`` misses when running as root).
* Every write goes to a hidden temporary file next to the destination (``.NAME.XXXX.part``) that is
  renamed over the destination atomically once complete, and removed on any error, on SIGINT and on
  SIGTERM (see :func:`install_signal_handlers`). Only SIGKILL or a power cut can leave it behind.
* ``-`` as the destination writes to standard output: the data still goes through a temporary file
  (elsewhere), copied to stdout once complete, so an error never leaves half a file in a pipe.

Usage::

    with prepare_output(path, (".wav", ".flac"), force=args.force, estimate=bytes_estimate) as out:
        ...  # heavy work; write to out.tmp (a Path); any exception discards it
    # here the destination holds the complete file
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType

log = logging.getLogger(__name__)

STDOUT = "-"
# Free space kept on top of the estimate: filesystems need some for metadata.
MARGIN_BYTES = 1 << 20

_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG)

_UMASK = os.umask(0o022)
os.umask(_UMASK)

_live: set[Path] = set()  # temporary files not yet committed or discarded
_live_lock = threading.Lock()


class OutputError(ValueError):
    """The destination cannot be used; the message names it and says what to do (one line)."""


class Terminated(BaseException):
    """Raised in the main thread by the SIGTERM handler, so that cleanup code runs (exit code 143)."""


def _human(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n:,} bytes"


class PreparedOutput:
    """A checked destination and its temporary file. Use through :func:`prepare_output`."""

    def __init__(self, path: Path | None, tmp: Path) -> None:
        self.path = path  # None: standard output
        self.tmp = tmp
        self.committed = False

    @property
    def name(self) -> str:
        return str(self.path) if self.path is not None else "standard output"

    def commit(self) -> None:
        """Move the complete temporary file into place (or copy it to stdout)."""
        if self.committed:
            return
        if self.path is None:
            out = sys.stdout.buffer
            with open(self.tmp, "rb") as f:
                shutil.copyfileobj(f, out)
            out.flush()
            self.discard()
        else:
            os.replace(self.tmp, self.path)
            _forget(self.tmp)
        self.committed = True

    def discard(self) -> None:
        """Remove the temporary file (idempotent; never raises)."""
        try:
            self.tmp.unlink(missing_ok=True)
        except OSError as e:  # nothing more can be done; say where it is
            log.warning("could not remove the temporary file %s: %s", self.tmp, e)
        _forget(self.tmp)

    def __enter__(self) -> PreparedOutput:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            try:
                self.commit()
            except OSError as e:
                self.discard()
                raise OutputError(_write_problem(self.name, e)) from None
            return
        self.discard()
        if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
            raise OutputError(_write_problem(self.name, exc)) from None


def prepare_output(path: str | Path, suffixes: Sequence[str], force: bool = False, estimate: int = 0,
                   allow_stdout: bool = True) -> PreparedOutput:
    """Check `path` as a destination and create its temporary file (see the module docstring).

    suffixes: accepted endings, lowercase with the dot (".wav"); estimate: expected size in bytes.
    Raises:
        OutputError: one line naming the destination and the problem.
    """
    if str(path) == STDOUT:
        if not allow_stdout:
            raise OutputError("this command cannot write to standard output ('-'); give a file name")
        from toolbox.console import check_stdout

        check_stdout()  # binary audio is refused on a terminal before any work
        return PreparedOutput(None, _make_tmp(Path(tempfile.gettempdir()), "stdout", "standard output"))
    path = Path(path).expanduser()
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; give a file name ending in {' or '.join(suffixes)}")
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(f"{path}: the output must end in {' or '.join(suffixes)}")
    if path.exists() or path.is_symlink():
        if not force:
            raise OutputError(f"{path} exists; use --force to overwrite it")
        if not path.is_file():
            raise OutputError(f"{path}: exists and is not a regular file; choose another name")
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "no such directory (create it first)"
        raise OutputError(f"{parent}: {what}")
    check_room(parent, estimate, path)
    return PreparedOutput(path, _make_tmp(parent, path.name, str(path)))


def check_room(folder: Path, estimate: int, path: Path | str) -> None:
    """Raise OutputError when `folder`'s filesystem has less than `estimate` bytes (+ margin) free."""
    if estimate <= 0:
        return
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # unknown: the write itself will tell
    if free < estimate + MARGIN_BYTES:
        raise OutputError(f"{path}: not enough free space in {folder} ({_human(free)} free, about "
                          f"{_human(estimate + MARGIN_BYTES)} needed)")


def _make_tmp(folder: Path, name: str, shown: str) -> Path:
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    except OSError as e:
        raise OutputError(f"{shown}: cannot write in {folder} ({e.strerror or e})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; the result should be like any new file
    with _live_lock:
        _live.add(tmp_path)
    return tmp_path


def _forget(tmp: Path) -> None:
    with _live_lock:
        _live.discard(tmp)


def _write_problem(name: str, e: OSError) -> str:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{name}: the disk is full; nothing was written"
    return f"{name}: could not be written ({e.strerror or e}); nothing was written"


def write_problem(name: str, e: OSError) -> str:
    """One-line description of an OSError met while writing `name` (for callers outside a context)."""
    return _write_problem(name, e)


def remove_live_temporaries() -> None:
    """Remove every temporary file not yet committed (a last resort for signals and exit)."""
    with _live_lock:
        paths = list(_live)
        _live.clear()
    for p in paths:
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def install_signal_handlers() -> object:
    """SIGTERM raises :class:`Terminated` in the main thread (SIGINT already raises
    KeyboardInterrupt), so ``finally`` blocks and context managers discard temporary files.
    Returns the previous handler (for :func:`restore_signal_handlers`), None off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def restore_signal_handlers(previous: object) -> None:
    """Put back the SIGTERM handler that :func:`install_signal_handlers` replaced."""
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)


# ------------------------------------------------------------------------------------------- audio
AUDIO_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16")}
AUDIO_BYTES_PER_SECOND = 2 * 16_000  # 16-bit mono at 16 kHz (an upper bound for FLAC too)


def write_audio(out: PreparedOutput, chunks, sample_rate: int, subtype: str | None = None) -> int:
    """Write float chunks (each (n,), clipped to [-1, 1]) to `out`'s temporary file as its suffix's
    format (WAV for stdout). Returns the number of samples. Errors of the model producing `chunks`
    propagate unchanged; a failed write raises OutputError (the caller's context discards the file)."""
    import numpy as np
    import soundfile as sf

    suffix = out.path.suffix.lower() if out.path is not None else ".wav"
    fmt, default_subtype = AUDIO_FORMATS.get(suffix, AUDIO_FORMATS[".wav"])
    n = 0
    try:
        f = sf.SoundFile(str(out.tmp), "w", samplerate=sample_rate, channels=1, format=fmt,
                         subtype=subtype or default_subtype)
    except (RuntimeError, OSError) as e:
        raise OutputError(_sf_problem(out, e)) from None
    complete = False
    try:
        for chunk in chunks:
            data = np.clip(np.asarray(chunk, dtype=np.float32), -1.0, 1.0)
            try:
                f.write(data)
            except (RuntimeError, OSError) as e:
                raise OutputError(_sf_problem(out, e)) from None
            n += len(data)
        complete = True
    finally:
        try:
            f.close()
        except (RuntimeError, OSError) as e:
            if complete:  # else an error is already on its way out
                raise OutputError(_sf_problem(out, e)) from None
    return n


def _sf_problem(out: PreparedOutput, e: Exception) -> str:
    if isinstance(e, OSError) and e.errno is not None:
        return _write_problem(out.name, e)
    try:
        if shutil.disk_usage(out.tmp.parent).free < MARGIN_BYTES:
            return f"{out.name}: the disk is full; nothing was written"
    except OSError:
        pass
    return f"{out.name}: could not be written ({e}); nothing was written"
