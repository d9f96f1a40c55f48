"""Where model files come from: a Hugging Face repository, through huggingface_hub. Each failure becomes
a one-line :class:`SourceError`.

A download shows tqdm's terminal bar (the CLI), shows nothing, or reports its bytes to a callback and
stops when a `cancel` event is set (the toolbox's download dialog): see :func:`fetch_hf`.

(Until 0.1.0 the published encoder could also come from the resemblyzer wheel, fetched by a `pip`
process; a uv-made venv has no pip, and the same weights are bundled as ``bundled-encoder``.)"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from models.vocoding import Cancelled

log = logging.getLogger(__name__)

ByteProgress = Callable[[int, int | None], None]
"""Download progress callback: (bytes received so far, total bytes or None when the server does not say)."""

REPORT_CHUNK = 256 * 1024  # bytes between two progress reports (and cancel checks) of a reporting download


class DownloadCancelled(Cancelled):
    """A download stopped because its `cancel` event was set; nothing of it is kept."""


class SourceError(Exception):
    """One source failed; the message is a short reason such as "truncated: 10 of 20 bytes"."""


@dataclass(frozen=True)
class HFSource:
    """A file in a Hugging Face model repository (endpoint from ``HF_ENDPOINT``)."""

    repo_id: str
    filename: str
    revision: str = "main"
    type: Literal["huggingface"] = "huggingface"

    def describe(self) -> str:
        return f"Hugging Face repo {self.repo_id}, file {self.filename}, revision {self.revision}"


Source = HFSource


def fetch_hf(source: HFSource, work: Path, progress: bool | ByteProgress = True,
             cancel: threading.Event | None = None) -> Path:
    """Download one Hugging Face file into `work` with huggingface_hub (resumes on dropped connections).

    progress: True shows tqdm's bar on the terminal, False shows nothing, a callable receives
        (bytes done, total bytes) about every :data:`REPORT_CHUNK` bytes.
    cancel: when set, the download stops at its next chunk with :class:`DownloadCancelled`
        (huggingface_hub deletes its partial file on the way out).

    Raises:
        SourceError: the source failed (one-line reason).
        DownloadCancelled: `cancel` was set.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    reporting = callable(progress) or cancel is not None
    if reporting:
        tqdm_class = _reporting_tqdm(progress if callable(progress) else None, cancel)
    else:
        tqdm_class = None if progress else _QuietTqdm
    endpoint = os.environ.get("HF_ENDPOINT") or None  # read now: huggingface_hub reads it only at import
    log.info("downloading %s", source.describe())
    _check(cancel)
    try:
        with _small_http_chunks() if reporting else contextlib.nullcontext():
            # One HEAD without retries first, so that being offline fails in a second rather than after
            # huggingface_hub's ~25 s of back-off.
            get_hf_file_metadata(hf_hub_url(source.repo_id, source.filename, revision=source.revision,
                                            endpoint=endpoint), endpoint=endpoint)
            _check(cancel)
            got = hf_hub_download(repo_id=source.repo_id, filename=source.filename, revision=source.revision,
                                  local_dir=work / "hf", endpoint=endpoint, tqdm_class=tqdm_class)
    except DownloadCancelled:
        raise
    except Exception as e:  # huggingface_hub and httpx raise many types; turn each into one line
        _check(cancel)  # an error caused by stopping is a cancellation, not a failure
        raise SourceError(_hf_reason(e, source)) from None
    _check(cancel)
    return Path(got)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled("download cancelled")


_chunks_lock = threading.Lock()
_chunks_users = 0
_chunks_saved: tuple[int, bool] = (0, False)


@contextlib.contextmanager
def _small_http_chunks() -> Iterator[None]:
    """While a reporting download runs, huggingface_hub streams plain HTTP in REPORT_CHUNK pieces.

    huggingface_hub reads the body in ``constants.DOWNLOAD_CHUNK_SIZE`` (10 MB) pieces and calls the
    progress bar once per piece, so on a slow link a Cancel would wait for up to 10 MB. Its Xet
    transfer reports from native threads, where raising does not stop it, so it is turned off too
    (the Hub serves every file over plain HTTP as well). Both are module globals read at call time;
    the first of overlapping downloads sets them and the last restores them.
    """
    global _chunks_users, _chunks_saved
    from huggingface_hub import constants

    with _chunks_lock:
        if _chunks_users == 0:
            _chunks_saved = (constants.DOWNLOAD_CHUNK_SIZE, constants.HF_HUB_DISABLE_XET)
            constants.DOWNLOAD_CHUNK_SIZE, constants.HF_HUB_DISABLE_XET = REPORT_CHUNK, True
        _chunks_users += 1
    try:
        yield
    finally:
        with _chunks_lock:
            _chunks_users -= 1
            if _chunks_users == 0:
                constants.DOWNLOAD_CHUNK_SIZE, constants.HF_HUB_DISABLE_XET = _chunks_saved


def _hf_reason(error: BaseException, source: HFSource) -> str:
    from huggingface_hub import errors as hf_errors

    chain: list[BaseException] = []
    e: BaseException | None = error
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    for e in chain:
        if isinstance(e, hf_errors.OfflineModeIsEnabled):
            return "offline: HF_HUB_OFFLINE is set, so the Hugging Face Hub is not contacted"
        if isinstance(e, hf_errors.RevisionNotFoundError):
            return f"404 not found: revision {source.revision} of {source.repo_id}"
        if isinstance(e, hf_errors.RemoteEntryNotFoundError):
            return f"404 not found: {source.filename} in {source.repo_id}"
        if isinstance(e, hf_errors.FileMetadataError):
            return ("the server did not answer like the Hugging Face Hub (no commit/ETag headers): "
                    "a proxy or login page, or a wrong HF_ENDPOINT?")
        response = getattr(e, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int) and status >= 400:
            if status == 404:
                return f"404 not found: {source.repo_id}/{source.filename}"
            if status in (401, 403):
                return f"HTTP {status}: access denied to {source.repo_id} (private or gated repository?)"
            return f"HTTP {status} from the server"
        m = re.search(r"should be of size (\d+) but has size (\d+)", str(e))
        if m:
            return f"truncated: {int(m.group(2)):,} of {int(m.group(1)):,} bytes (the connection dropped)"
        if type(e).__name__ in ("ConnectError", "ConnectTimeout", "ReadTimeout", "TimeoutException",
                                "NetworkError", "ProxyError"):
            return f"offline: cannot reach the Hugging Face Hub ({type(e).__name__})"
    if isinstance(error, hf_errors.LocalEntryNotFoundError):
        return "offline: cannot reach the Hugging Face Hub (check the network connection or HF_ENDPOINT)"
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first[:200]}"


try:  # progress bars that never show
    from tqdm.auto import tqdm as _tqdm

    class _QuietTqdm(_tqdm):  # type: ignore[misc]
        def __init__(self, *args, **kwargs) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
except ImportError:  # pragma: no cover - tqdm comes with huggingface_hub
    _QuietTqdm = None  # type: ignore[assignment,misc]


def _reporting_tqdm(report: ByteProgress | None, cancel: threading.Event | None) -> type:
    """A silent tqdm class for huggingface_hub's `tqdm_class` whose ``update(n)`` passes the running byte
    count to `report` and raises :class:`DownloadCancelled` once `cancel` is set."""

    class _Reporting(_QuietTqdm):  # type: ignore[misc,valid-type]
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._done = int(kwargs.get("initial") or 0)
            self._total = kwargs.get("total")
            _check(cancel)
            if report is not None:
                report(self._done, self._total)

        def update(self, n: float | None = 1) -> bool | None:
            self._done += int(n or 0)  # negative when huggingface_hub restarts a resumed download
            _check(cancel)
            if report is not None:
                report(self._done, self._total)
            return None

        def update_transfer(self, n: int) -> None:
            """Network bytes (counted by update() already); its presence keeps Xet to one bar."""

    return _Reporting
