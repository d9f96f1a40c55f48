"""Where model files come from: a Hugging Face repository, through huggingface_hub. Each failure becomes
a one-line :class:`SourceError`.

(Until 0.1.0 the published encoder could also come from the resemblyzer wheel, fetched by a `pip`
process; a uv-made venv has no pip, and the same weights are bundled as ``bundled-encoder``.)"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)


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


def fetch_hf(source: HFSource, work: Path, progress: bool) -> Path:
    """Download one Hugging Face file into `work` with huggingface_hub (resumes on dropped connections)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    endpoint = os.environ.get("HF_ENDPOINT") or None  # read now: huggingface_hub reads it only at import
    log.info("downloading %s", source.describe())
    try:
        # One HEAD without retries first, so that being offline fails in a second rather than after
        # huggingface_hub's ~25 s of back-off.
        get_hf_file_metadata(hf_hub_url(source.repo_id, source.filename, revision=source.revision,
                                        endpoint=endpoint), endpoint=endpoint)
        got = hf_hub_download(repo_id=source.repo_id, filename=source.filename, revision=source.revision,
                              local_dir=work / "hf", endpoint=endpoint,
                              tqdm_class=None if progress else _QuietTqdm)
    except Exception as e:  # huggingface_hub and httpx raise many types; turn each into one line
        raise SourceError(_hf_reason(e, source)) from None
    return Path(got)


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


try:  # a progress bar that never shows, for progress=False
    from tqdm.auto import tqdm as _tqdm

    class _QuietTqdm(_tqdm):  # type: ignore[misc]
        def __init__(self, *args, **kwargs) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
except ImportError:  # pragma: no cover - tqdm comes with huggingface_hub
    _QuietTqdm = None  # type: ignore[assignment,misc]
