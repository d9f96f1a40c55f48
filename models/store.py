"""The model store: which weights files the toolbox uses, where they live, how to fetch and verify them.

``pretrained/manifest.json`` names each model with its file name, byte size, sha256 (when known),
container format and an ordered list of sources. An entry is either

* **downloadable**: ``sources`` lists Hugging Face files (``{"type": "huggingface", "repo_id",
  "revision", "filename"}``), tried in order; the file lands in the cache directory, or
* **bundled**: ``path`` names a file relative to ``pretrained/`` shipped with the toolbox (our own
  ``.safetensors`` demo models); ``sources`` may then be empty.

Every file is checked before it is used or accepted: not an HTML page, exact byte size, expected
container (``sniff``), sha256. Hashes are remembered in ``<cache>/.verified/`` keyed by path, size
and mtime, so repeated ``get()`` calls do not re-read a 370 MB file.

The cache directory is the ``cache_dir`` argument, else ``$SV2TTS_MODELS_DIR``, else
``models.userdirs.cache_dir()/models``. The manifest is the ``manifest`` argument, else
``$SV2TTS_MANIFEST``, else the bundled ``pretrained/manifest.json`` (models.resources: inside the
installed package, or at the top of a source checkout).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from models.checkpoint import CheckpointError, container_problem, sniff
from models.fetch import ByteProgress, HFSource, Source, SourceError, fetch_hf
from models.resources import shipped_dir

log = logging.getLogger(__name__)

PRETRAINED_DIR = shipped_dir("models", "pretrained")
DEFAULT_MANIFEST = PRETRAINED_DIR / "manifest.json"
# Container kinds (as returned by checkpoint.sniff) accepted for each manifest "format".
FORMATS: dict[str, tuple[str, ...]] = {
    "torch": ("torch-zip", "torch-legacy"),
    "safetensors": ("safetensors",),
}
_CHUNK = 1 << 20
STALE_WORK_S = 24 * 3600  # a download work folder untouched this long was left by a killed process


class ModelMissingError(CheckpointError):
    """A model file is absent (or unusable); the message says how to get it."""


class CorruptModelError(ModelMissingError):
    """A model file is present but bad (corrupt, truncated, wrong hash): reported, never skipped."""


class DownloadError(CheckpointError):
    """Every source of a model failed; the message gives each source's reason, ``reasons`` the bare
    one-line reasons in source order (e.g. "offline: cannot reach the Hugging Face Hub (ConnectError)")."""

    def __init__(self, message: str, reasons: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.reasons = reasons


@dataclass(frozen=True)
class ModelEntry:
    """One model of the manifest. ``size`` in bytes; ``sha256`` lowercase hex; ``None`` when unknown."""

    name: str
    kind: str  # "encoder" | "synthesizer" | "vocoder"
    filename: str  # name of the file in the cache
    size: int | None
    sha256: str | None
    format: str  # key of FORMATS
    sources: tuple[Source, ...]
    path: Path | None = None  # bundled file (absolute), for entries shipped in pretrained/
    description: str = ""

    def how_to_get(self) -> str:
        """One sentence telling the user how to obtain this model."""
        where = "; or ".join(s.describe() for s in self.sources)
        if not self.sources:
            return (f"it is bundled with the toolbox at {self.path}: reinstall the toolbox, "
                    f"or run `sv2tts models import PATH --name {self.name}` with a copy of it")
        return (f"get it with `sv2tts models download {self.name}`, or download it by hand ({where}) "
                f"and run `sv2tts models import PATH`")


@dataclass(frozen=True)
class VerifyResult:
    """State of one model on disk. ``status``: "ok", "missing" or "bad" (``detail`` says why)."""

    name: str
    status: Literal["ok", "missing", "bad"]
    path: Path | None
    size: int | None = None
    sha256: str | None = None
    format: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class ModelStore:
    """Finds, verifies, downloads and imports the models named in a manifest."""

    def __init__(self, cache_dir: Path | None = None, manifest: Path | None = None) -> None:
        if cache_dir is None:
            env = os.environ.get("SV2TTS_MODELS_DIR")
            if env:
                cache_dir = Path(env)
            else:
                from models.userdirs import cache_dir as user_cache_dir

                cache_dir = user_cache_dir() / "models"
        if manifest is None:
            manifest = Path(os.environ.get("SV2TTS_MANIFEST") or DEFAULT_MANIFEST)
        self.cache_dir = Path(cache_dir).expanduser()
        self.manifest_path = Path(manifest)
        self._entries = _load_manifest(self.manifest_path)

    # ---------------------------------------------------------------------------------- lookup
    def entries(self) -> list[ModelEntry]:
        return list(self._entries.values())

    def entry(self, name: str) -> ModelEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise CheckpointError(
                f"unknown model {name!r}; known models: {', '.join(self._entries)} "
                f"(from {self.manifest_path})") from None

    def candidates(self, name: str) -> list[Path]:
        """Where the model may be, in order: its bundled file, then the cache."""
        entry = self.entry(name)
        found = [entry.path] if entry.path is not None else []
        return found + [self.cache_dir / entry.filename]

    def path(self, name: str) -> Path | None:
        """The verified local file of model `name` (bundled or cached), or None."""
        for p in self.candidates(name):
            if p.is_file() and self._problem(self.entry(name), p) is None:
                return p
        return None

    def names(self) -> list[str]:
        return list(self._entries)

    def installed(self, name: str) -> Path | None:
        """The verified local file of `name`, or None when no file is there.

        Raises:
            ModelMissingError: a file is there but bad (corrupt, truncated, wrong hash): it is
                reported, never silently skipped in favour of another model.
        """
        entry = self.entry(name)
        bad = None
        for p in self.candidates(name):
            if not p.is_file():
                continue
            problem = self._problem(entry, p)
            if problem is None:
                return p
            bad = bad or (p, problem)
        if bad is None:
            return None
        p, problem = bad
        raise CorruptModelError(f"the {name} model file {p} is unusable ({problem}); delete it, or "
                                f"{entry.how_to_get()}")

    def get(self, name: str, download: bool = False) -> Path:
        """The verified file of `name`. When absent: downloads it if `download`, else ModelMissingError."""
        found = self.path(name)
        if found is not None:
            return found
        if download:
            return self.download(name)
        entry = self.entry(name)
        for p in self.candidates(name):
            if p.is_file():
                problem = self._problem(entry, p)
                raise ModelMissingError(f"the {name} model file {p} is unusable ({problem}); "
                                        f"{entry.how_to_get()}")
        raise ModelMissingError(
            f"the {name} model is missing (looked for {' and '.join(map(str, self.candidates(name)))}); "
            f"{entry.how_to_get()}")

    def default(self, kind: str) -> Path:
        """The file to use for `kind` when none is named: the published model (named after its kind)
        when present, else the first present model of that kind in manifest order (the bundled demo
        models). Raises ModelMissingError (about the published model) when there is none, and (naming
        the file) when a model met first is present but corrupt: never silently replaced by another."""
        ordered = sorted((e for e in self.entries() if e.kind == kind), key=lambda e: e.name != kind)
        for entry in ordered:
            found = self.installed(entry.name)  # a present but corrupt model is an error
            if found is not None:
                if entry.name != kind:
                    log.info("the published %s is not downloaded; using %s", kind, entry.name)
                return found
        return self.get(kind)

    # ---------------------------------------------------------------------------------- verify
    def verify(self, name: str | None = None, rehash: bool = False, thorough: bool = True) -> list[VerifyResult]:
        """Check size, container and sha256 of what is present (all models, or `name`).

        thorough: recompute the sha256 when the manifest knows it, else read the whole container
        (zip CRCs, safetensors header); `rehash` also recomputes every hash and compares it with the
        one recorded when the file was imported or downloaded. thorough=False trusts the hashes
        remembered for an unchanged size and mtime (fast; for listing).
        """
        names = [name] if name is not None else list(self._entries)
        return [self._verify_one(self.entry(n), rehash, thorough) for n in names]

    def _verify_one(self, entry: ModelEntry, rehash: bool, thorough: bool = True) -> VerifyResult:
        bad: VerifyResult | None = None
        for p in self.candidates(entry.name):
            if not p.is_file():
                continue
            if thorough:  # the manifest's hash is always recomputed; without one, the whole container is read
                problem = self._problem(entry, p, rehash or entry.sha256 is not None,
                                        deep=rehash or entry.sha256 is None)
            else:
                problem = self._problem(entry, p)
            size = p.stat().st_size
            digest = self._known_hash(p)
            if problem is None:
                return VerifyResult(entry.name, "ok", p, size, digest, sniff(p))
            bad = bad or VerifyResult(entry.name, "bad", p, size, digest, sniff(p), problem)
        return bad or VerifyResult(entry.name, "missing", None, detail=entry.how_to_get())

    def _problem(self, entry: ModelEntry, path: Path, rehash: bool = False, deep: bool = False,
                 remember: bool = True) -> str | None:
        """What is wrong with `path` as the file of `entry`, or None when it is good.

        rehash: recompute the sha256 (else a hash remembered for this size and mtime is trusted);
        deep: also read the whole container (models.checkpoint.container_problem); remember: record
        the hash in the cache (False for a file outside the store, e.g. one being imported)."""
        if not path.is_file():
            return "file not found"
        size = path.stat().st_size
        kind = sniff(path)
        if kind == "empty":
            return "empty file (0 bytes)"
        if kind == "html":
            return (f"an HTML page instead of model weights ({size:,} bytes; an error, login "
                    f"or proxy page was saved)")
        if entry.size is not None and size != entry.size:
            if size < entry.size:
                return f"truncated: {size:,} of {entry.size:,} bytes"
            return f"too large: {size:,} bytes, {entry.size:,} expected"
        if kind not in FORMATS[entry.format]:
            return f"not a {entry.format} weights file (its content looks like {kind})"
        if entry.sha256 is not None:
            digest = self._sha256(path, rehash, remember)
            if digest != entry.sha256:
                return (f"sha256 mismatch: {digest[:16]}... instead of {entry.sha256[:16]}... "
                        "(a corrupt or different file)")
        elif rehash:
            imported = self._imported_hash(path)
            digest = self._sha256(path, rehash=True, remember=remember)
            if imported is not None and digest != imported:
                return (f"changed since it was imported: sha256 {digest[:16]}... instead of "
                        f"{imported[:16]}... (a corrupt file)")
        if deep:
            problem = container_problem(path)
            if problem is not None:
                return problem
        return None

    # ---------------------------------------------------------------------------------- hashing
    def _record_path(self, path: Path) -> Path:
        key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:20]
        return self.cache_dir / ".verified" / f"{key}.json"

    def _known_hash(self, path: Path) -> str | None:
        """The remembered sha256 of `path` if its size and mtime are unchanged."""
        try:
            rec = json.loads(self._record_path(path).read_text())
            st = path.stat()
        except (OSError, ValueError):
            return None
        if rec.get("path") == str(path.resolve()) and rec.get("size") == st.st_size \
                and rec.get("mtime_ns") == st.st_mtime_ns:
            return rec.get("sha256")
        return None

    def _imported_hash(self, path: Path) -> str | None:
        """The sha256 recorded when `path` entered the store (import or download), whatever its mtime."""
        try:
            rec = json.loads(self._record_path(path).read_text())
        except (OSError, ValueError):
            return None
        return rec.get("imported_sha256") if rec.get("path") == str(path.resolve()) else None

    def _sha256(self, path: Path, rehash: bool = False, remember: bool = True) -> str:
        if not rehash:
            known = self._known_hash(path)
            if known is not None:
                return known
        log.debug("hashing %s", path)
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        digest = h.hexdigest()
        if remember:
            self._remember(path, digest)
        return digest

    def _remember(self, path: Path, digest: str, imported: bool = False) -> None:
        """Record `digest` for `path`'s size and mtime; `imported`: also as the hash it entered with
        (kept across later records, so `verify --rehash` sees a file that changed in place)."""
        st = path.stat()
        rec = {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        kept = digest if imported else self._imported_hash(path)
        if kept is not None:
            rec["imported_sha256"] = kept
        target = self._record_path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(rec))
            tmp.replace(target)
        except OSError as e:  # a read-only cache only costs re-hashing
            log.debug("could not remember the hash of %s: %s", path, e)

    # ---------------------------------------------------------------------------------- import
    def import_file(self, path: str | Path, name: str | None = None) -> Path:
        """Identify `path` (by size/sha256, or as model `name`), verify it and copy it into the cache."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise CheckpointError(f"{path}: file not found; nothing imported")
        entry = self.entry(name) if name is not None else self._identify(path)
        problem = self._problem(entry, path, rehash=True, deep=True, remember=False)  # a refusal leaves no trace
        if problem is not None:
            raise CheckpointError(f"{path}: not imported as the {entry.name} model: {problem}")
        target = self.cache_dir / entry.filename
        if target.exists() and target.resolve() == path.resolve():
            return target
        tmp_path = None
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.cache_dir, prefix=f".{entry.filename}.", suffix=".part",
                                             delete=False) as tmp:
                tmp_path = Path(tmp.name)
            shutil.copyfile(path, tmp_path)
            return self._accept(entry, tmp_path)
        except OSError as e:
            raise CheckpointError(f"{path}: not imported: cannot write to the model cache {self.cache_dir} "
                                  f"({e.strerror or e}); set SV2TTS_MODELS_DIR to a writable folder") from None
        except SourceError as e:
            raise CheckpointError(f"{path}: not imported as the {entry.name} model: {e}") from None
        finally:
            if tmp_path is not None:
                tmp_path.unlink(missing_ok=True)

    def _identify(self, path: Path) -> ModelEntry:
        size = path.stat().st_size
        same_size = [e for e in self._entries.values() if e.size == size]
        if len(same_size) > 1:
            digest = self._sha256(path, remember=False)
            same_size = [e for e in same_size if e.sha256 == digest] or same_size
        if len(same_size) == 1:
            return same_size[0]
        known = ", ".join(f"{e.name} ({e.size:,} bytes)" for e in self._entries.values() if e.size)
        if not same_size:
            what = "an HTML page" if sniff(path) == "html" else f"{size:,} bytes"
            raise CheckpointError(f"{path}: not a known model file ({what}; known: {known}); "
                                  "pass --name NAME to import it as a given model")
        raise CheckpointError(f"{path}: could be any of {', '.join(e.name for e in same_size)}; "
                              "pass --name NAME")

    def _accept(self, entry: ModelEntry, tmp: Path) -> Path:
        """Verify `tmp` (in the cache dir) as `entry` and move it into place atomically."""
        problem = self._problem(entry, tmp, deep=True)  # the whole container, not only size and hash
        if problem is not None:
            raise SourceError(problem)
        digest = self._sha256(tmp)  # already known when the manifest has a hash
        self._record_path(tmp).unlink(missing_ok=True)
        target = self.cache_dir / entry.filename
        os.replace(tmp, target)
        self._remember(target, digest, imported=True)
        log.info("%s model ready at %s", entry.name, target)
        return target

    # ---------------------------------------------------------------------------------- download
    def download(self, name: str, progress: bool | ByteProgress = True,
                 cancel: threading.Event | None = None) -> Path:
        """Fetch model `name` from its sources in order; returns the verified cached file.

        progress: True shows a terminal bar, False nothing, a callable gets (bytes done, total bytes).
        cancel: set it (from any thread) to stop; the partial download is deleted.

        Raises:
            DownloadError: every source failed; the message lists why and how to import by hand.
            models.fetch.DownloadCancelled: `cancel` was set (no other source is tried).
        """
        entry = self.entry(name)
        if not entry.sources:
            raise ModelMissingError(f"the {name} model has no download source; {entry.how_to_get()}")
        reasons, bare = [], []
        for i, source in enumerate(entry.sources):
            try:
                return self.download_from(name, source, progress, cancel)
            except SourceError as e:
                if i + 1 < len(entry.sources):
                    log.info("%s: %s failed (%s); trying the next source", name, source.describe(), e)
                reasons.append(f"{source.describe()}: {e}")
                bare.append(str(e))
        raise DownloadError(
            f"could not download the {name} model: {'; '.join(reasons)}. "
            f"Download it by hand and run `sv2tts models import PATH --name {name}`", tuple(bare))

    def download_from(self, name: str, source: Source, progress: bool | ByteProgress = True,
                      cancel: threading.Event | None = None) -> Path:
        """Fetch model `name` from one `source`, verify it, move it into the cache.

        The file is fetched into a temporary folder under ``<cache>/.tmp`` (removed whatever happens),
        checked, and only then moved into place: a failed or cancelled download leaves nothing.

        Raises:
            SourceError: the source failed or gave a bad file (nothing is left in the cache).
            models.fetch.DownloadCancelled: `cancel` was set (nothing is left in the cache).
        """
        entry = self.entry(name)
        work_root = self.cache_dir / ".tmp"
        work_root.mkdir(parents=True, exist_ok=True)
        _sweep_stale_work(work_root)
        try:
            with tempfile.TemporaryDirectory(dir=work_root, prefix=f"{name}-") as work:
                fetched = fetch_hf(source, Path(work), progress, cancel)
                return self._accept(entry, fetched)
        finally:
            try:
                work_root.rmdir()
            except OSError:
                pass


def _sweep_stale_work(work_root: Path) -> None:
    """Delete download work folders in `work_root` whose files have not changed for STALE_WORK_S: what a
    process killed mid-download left (the toolbox leaves with os._exit when a download is slow to stop)."""
    now = time.time()
    for folder in work_root.iterdir():
        try:
            newest = max((p.stat().st_mtime for p in folder.rglob("*")), default=folder.stat().st_mtime)
        except OSError:  # another process is removing it
            continue
        if now - newest > STALE_WORK_S:
            log.info("removing %s, left by an interrupted download", folder)
            shutil.rmtree(folder, ignore_errors=True)


# -------------------------------------------------------------------------------------- manifest
def _load_manifest(path: Path) -> dict[str, ModelEntry]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no model manifest here (set SV2TTS_MANIFEST or reinstall)") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable model manifest ({e})") from None
    entries: dict[str, ModelEntry] = {}
    filenames: set[str] = set()
    for i, raw in enumerate(data.get("models", [])):
        where = f"{path}: models[{i}]"
        try:
            entry = _parse_entry(raw, path.parent)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{where}: invalid entry ({type(e).__name__}: {e})") from None
        if entry.name in entries or entry.filename in filenames:
            raise CheckpointError(f"{where}: duplicate name {entry.name!r} or filename {entry.filename!r}")
        entries[entry.name] = entry
        filenames.add(entry.filename)
    if not entries:
        raise CheckpointError(f"{path}: the manifest lists no models")
    return entries


def _parse_entry(raw: dict, root: Path) -> ModelEntry:
    sources: list[Source] = []
    for s in raw.get("sources", []):
        if s["type"] == "huggingface":
            sources.append(HFSource(repo_id=s["repo_id"], filename=s["filename"],
                                    revision=s.get("revision", "main")))
        else:
            raise ValueError(f"source type {s['type']!r} is not huggingface (the only one)")
    fmt = raw.get("format", "torch")
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    sha = raw.get("sha256")
    if sha is not None and not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ValueError(f"sha256 {sha!r} is not 64 lowercase hex digits")
    bundled = (root / raw["path"]).resolve() if raw.get("path") else None
    filename = raw.get("filename") or (bundled.name if bundled else f"{raw['name']}.pt")
    if not sources and bundled is None:
        raise ValueError("an entry needs sources or a bundled path")
    return ModelEntry(name=raw["name"], kind=raw.get("kind", raw["name"]), filename=filename,
                      size=raw.get("size"), sha256=sha, format=fmt, sources=tuple(sources),
                      path=bundled, description=raw.get("description", ""))
