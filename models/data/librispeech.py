"""LibriSpeech: ``<root>/[<subset>/]<speaker>/<chapter>/<speaker>-<chapter>-<n>.flac``.

Transcripts come from ``<speaker>-<chapter>.trans.txt`` (``<utt> TEXT`` lines). Flat copies
(``<subset>/<speaker>/*.flac`` or ``<subset>/*.flac``) work too: the speaker is read from the file name.

With ``split=True`` and the Montreal word alignments (``<speaker>-<chapter>.alignment.txt``, lines
``<utt> ",W1,W2,,W3," "t1,t2,t3,t4,t5"`` of word end times, empty words for silences), each file is
cut into segments at silences of at least 0.4 s, and segments shorter than 1.6 s are merged into
their shorter neighbour unless that makes one longer than 11.25 s (the reference's
``split_on_silences``, without its logmmse denoising). Segment ids are ``<utt>_<NN>``.
"""

from __future__ import annotations

import re
from pathlib import Path

from models.data.items import DatasetError, Utterance, audio_files, clean_text, require

LAYOUT = "<root>/<speaker>/<chapter>/<speaker>-<chapter>-<n>.flac + <speaker>-<chapter>.trans.txt"
SILENCE_SPLIT_S = 0.4
MIN_SEGMENT_S = 1.6
MAX_SEGMENT_S = 900 * 200 / 16_000  # 11.25 s: max_mel_frames * hop / sample_rate
_UTT = re.compile(r"^(\d+)-(\d+)-(\d+)$")


def read(root: Path, split: bool = False) -> list[Utterance]:
    texts: dict[str, str] = {}
    for trans in sorted(root.rglob("*.trans.txt")):
        for line in trans.read_text(encoding="utf-8").splitlines():
            uid, _, text = line.strip().partition(" ")
            if uid:
                texts[uid] = clean_text(text)
    alignments: dict[str, tuple[list[str], list[float]]] = {}
    if split:
        for path in sorted(root.rglob("*.alignment.txt")):
            alignments.update(_read_alignments(path))
    items = []
    for path in audio_files(root, (".flac", ".wav")):
        m = _UTT.match(path.stem)
        speaker = m.group(1) if m else path.parent.parent.name
        uid = path.stem
        if uid in alignments:
            items += _segments(uid, speaker, path, *alignments[uid])
        else:
            items.append(Utterance(uid, speaker, path, texts.get(uid) or None))
    return require(items, root, "LibriSpeech", LAYOUT)


def _read_alignments(path: Path) -> dict[str, tuple[list[str], list[float]]]:
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            uid, words, times = line.split(" ")
            words_l = words.strip('"').split(",")
            times_l = [float(t) for t in times.strip('"').split(",")]
        except ValueError:
            raise DatasetError(f'{path}:{n}: expected <utt> "w1,w2,..." "t1,t2,...", got {line[:80]!r}') from None
        if len(words_l) != len(times_l):
            raise DatasetError(f"{path}:{n}: {len(words_l)} words but {len(times_l)} times")
        out[uid] = (words_l, times_l)
    return out


def split_on_silences(words: list[str], ends: list[float]) -> list[tuple[float, float, str]]:
    """Segments (start_s, end_s, text) of an aligned utterance; see the module docstring."""
    starts = [0.0, *ends[:-1]]
    breaks = [i for i, w in enumerate(words)
              if i in (0, len(words) - 1) or (w == "" and ends[i] - starts[i] >= SILENCE_SPLIT_S)]
    segs = list(zip(breaks, breaks[1:], strict=False))  # token index ranges, break tokens excluded
    durs = [starts[b] - ends[a] for a, b in segs]
    i = 0
    while i < len(segs) and len(segs) > 1:
        if durs[i] >= MIN_SEGMENT_S:
            i += 1
            continue
        left = durs[i - 1] if i > 0 else float("inf")
        right = durs[i + 1] if i < len(segs) - 1 else float("inf")
        joined = durs[i] + min(left, right)
        if joined > MAX_SEGMENT_S:
            i += 1
            continue
        j = i - 1 if left <= right else i  # merge segs[j] and segs[j + 1]
        segs[j:j + 2] = [(segs[j][0], segs[j + 1][1])]
        durs[j:j + 2] = [joined]
    out = []
    for a, b in segs:
        text = " ".join(w for w in words[a + 1:b] if w)
        if text:
            out.append((ends[a], starts[b], text))
    return out


def _segments(uid: str, speaker: str, path: Path, words: list[str], ends: list[float]) -> list[Utterance]:
    return [Utterance(f"{uid}_{k:02d}", speaker, path, clean_text(text), start, end)
            for k, (start, end, text) in enumerate(split_on_silences(words, ends))]
