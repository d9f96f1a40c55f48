"""Running a preprocessing job: shard selection, resume, worker processes, the log and the manifests.

Files in OUT besides the per-utterance outputs of :mod:`models.data.writers`:

* ``preprocess_log.jsonl`` (``preprocess_log.shard<I>of<N>.jsonl`` for ``--shard I/N``): one JSON
  record per processed utterance, appended as results arrive, with ``status`` "kept" or "dropped",
  the drop ``reason``, sizes and a time stamp ``t``. The newest record of an id wins.
* encoder: ``<dataset>_<speaker>/_sources.txt``, lines ``<npy name>,<source audio path>``.
* synthesizer: ``train.txt``, lines ``audio|mel|embed|n_samples|n_frames|text`` (file names relative
  to ``audio/``, ``mels/``, ``embeds/``), the kept utterances that have an embedding, sorted by id.

Manifests are rebuilt from every log in OUT at the end of each run, so shards run one after another
or side by side (separate processes, same OUT) all end up in them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.data.datasets import ENCODER_ONLY, read_dataset
from models.data.items import DatasetError, Utterance
from models.data.writers import PROCESSORS, encoder_path, save_npy, synth_names

log = logging.getLogger(__name__)

KINDS = ("encoder", "synthesizer")
LOG_GLOB = "preprocess_log*.jsonl"
EMBED_BATCH = 32  # utterances per encoder call


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0 <= index < count)."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            i, n = (int(x) for x in text.split("/"))
        except ValueError:
            raise ValueError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. 0/4") from None
        if not 0 <= i < n:
            raise ValueError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. 0/4")
        return cls(i, n)

    def __contains__(self, item_id: str) -> bool:
        digest = hashlib.blake2b(item_id.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.count == self.index

    @property
    def log_name(self) -> str:
        return "preprocess_log.jsonl" if self.count == 1 else f"preprocess_log.shard{self.index}of{self.count}.jsonl"


def read_log(out_dir: Path) -> dict[str, dict]:
    """The newest record of every id in all the logs of `out_dir` (a truncated last line is ignored)."""
    latest: dict[str, dict] = {}
    for path in sorted(out_dir.glob(LOG_GLOB)):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            old = latest.get(rec.get("id"))
            if old is None or rec.get("t", 0) >= old.get("t", 0):
                latest[rec["id"]] = rec
    return latest


def _finished(kind: str, rec: dict | None, out_dir: Path, dataset: str, item: Utterance) -> bool:
    if rec is None or rec.get("kind") != kind:
        return False
    if rec["status"] == "dropped":
        return True
    if kind == "encoder":
        return encoder_path(out_dir, dataset, item).is_file()
    audio_name, mel_name, embed_name = synth_names(item)
    return all((out_dir / d / n).is_file() for d, n in (("audio", audio_name), ("mels", mel_name),
                                                         ("embeds", embed_name)))


def _work(kind: str, out_dir: Path, dataset: str, item: Utterance) -> dict:
    try:
        rec = PROCESSORS[kind](item, out_dir, dataset)
    except Exception as e:  # one broken file must not end a run of thousands; it is logged with its error
        log.warning("%s: %s: %s", item.path, type(e).__name__, e)
        rec = {"id": item.id, "speaker": item.speaker, "source": str(item.path), "status": "dropped",
               "reason": f"error: {type(e).__name__}: {e}"}
    rec["kind"] = kind
    return rec


def preprocess(kind: str, root: Path, out_dir: Path, dataset: str, jobs: int = 1, shard: Shard = Shard(),
               skip_existing: bool = False, encoder_path_: Path | None = None,
               progress: Callable[[int, int], None] | None = None) -> Counter:
    """Preprocess the utterances of `dataset` under `root` that fall in `shard` into `out_dir`.

    Returns a Counter of "kept", "dropped", "skipped" and "dropped: <reason kind>".
    Raises:
        DatasetError: unknown kind/dataset or a layout that does not match.
    """
    if kind not in KINDS:
        raise DatasetError(f"unknown kind {kind!r}; valid: {', '.join(KINDS)}")
    if kind == "synthesizer" and dataset in ENCODER_ONLY:
        raise DatasetError(f"{dataset} has no transcripts: it can only be preprocessed for the encoder")
    items = read_dataset(dataset, root, split_on_silences=kind == "synthesizer")
    mine = [u for u in items if u.id in shard]
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = read_log(out_dir)
    other = {r.get("kind") for r in previous.values()} - {kind}
    if other:
        raise DatasetError(f"{out_dir} holds {', '.join(sorted(map(str, other)))} data; "
                           f"use a separate output folder for {kind} data")
    done = previous if skip_existing else {}
    todo = [u for u in mine if not _finished(kind, done.get(u.id), out_dir, dataset, u)]
    counts: Counter = Counter(skipped=len(mine) - len(todo))
    log.info("%s %s: %d utterances, %d in shard %d/%d, %d to do", kind, root, len(items), len(mine),
             shard.index, shard.count, len(todo))

    work = functools.partial(_work, kind, out_dir, dataset)
    with open(out_dir / shard.log_name, "a", encoding="utf-8") as log_file:
        def write(rec: dict) -> None:
            rec["t"] = time.time()
            log_file.write(json.dumps(rec, ensure_ascii=False) + "\n")
            log_file.flush()
            counts[rec["status"]] += 1
            if rec["status"] == "dropped":
                counts["dropped: " + rec["reason"].split(":")[0]] += 1

        fresh = set()
        for n, rec in enumerate(_map(work, todo, jobs), 1):
            write(rec)
            fresh.add(rec["id"])
            if progress:
                progress(n, len(todo))
        if kind == "synthesizer":
            for rec in _embed(out_dir, mine, fresh, encoder_path_):
                write(rec)
    write_manifests(kind, out_dir, dataset)
    return counts


def _map(fn: Callable[[Utterance], dict], items: list[Utterance], jobs: int):
    """fn over items, in worker processes when jobs > 1 (spawned: safe after torch is imported)."""
    if jobs <= 1 or len(items) < 2:
        yield from map(fn, items)
        return
    chunk = max(1, min(16, len(items) // (4 * jobs)))
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        yield from pool.imap(fn, items, chunksize=chunk)  # ordered: segments of a file stay together


def _embed(out_dir: Path, items: list[Utterance], fresh: set[str], encoder_file: Path | None):
    """Embed the kept synthesizer utterances of `items` that were just processed (ids in `fresh`) or
    have no embedding yet; yields drop records."""
    latest = read_log(out_dir)
    need = [u for u in items if latest.get(u.id, {}).get("status") == "kept"
            and (u.id in fresh or not (out_dir / "embeds" / synth_names(u)[2]).is_file())]
    if not need:
        return
    from models.audio import AudioError
    from models.encoder import SpeakerEncoder

    encoder = SpeakerEncoder.from_file(encoder_file) if encoder_file else SpeakerEncoder.default()
    log.info("embedding %d utterances", len(need))
    for start in range(0, len(need), EMBED_BATCH):
        batch = need[start:start + EMBED_BATCH]
        wavs = [np.load(out_dir / "audio" / synth_names(u)[0]) for u in batch]
        try:
            embeds = encoder.embed_utterances(wavs, sources=[u.id for u in batch])
            results = list(zip(batch, embeds, strict=True))
        except AudioError:  # rare: one clip has no speech for the encoder's stricter VAD; go one by one
            results = []
            for u, wav in zip(batch, wavs, strict=True):
                try:
                    results.append((u, encoder.embed_utterance(wav, source=u.id)))
                except AudioError as e:
                    yield {"id": u.id, "speaker": u.speaker, "source": str(u.path), "kind": "synthesizer",
                           "status": "dropped", "reason": f"embedding: {e}"}
        for u, e in results:
            save_npy(out_dir / "embeds" / synth_names(u)[2], e.astype(np.float32))


def write_manifests(kind: str, out_dir: Path, dataset: str) -> None:
    """Rebuild train.txt (synthesizer) or the _sources.txt files (encoder) from all logs in `out_dir`."""
    recs = sorted((r for r in read_log(out_dir).values() if r["status"] == "kept" and r.get("kind") == kind),
                  key=lambda r: r["id"])
    if kind == "synthesizer":
        lines = []
        for r in recs:
            a, m, e = f"audio-{r['id']}.npy", f"mel-{r['id']}.npy", f"embed-{r['id']}.npy"
            if (out_dir / "embeds" / e).is_file():
                lines.append(f"{a}|{m}|{e}|{r['n_samples']}|{r['n_frames']}|{r['text']}\n")
        _write_text(out_dir / "train.txt", "".join(lines))
        return
    by_dir: dict[Path, list[str]] = {}
    for r in recs:
        rel = Path(r["file"])
        by_dir.setdefault(out_dir / rel.parent, []).append(f"{rel.name},{r['source']}\n")
    for d, lines in by_dir.items():
        if d.is_dir():
            _write_text(d / "_sources.txt", "".join(lines))


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{time.time_ns()}.part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
