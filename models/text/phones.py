"""Phones with durations: the front-end of the duration-based demo synthesizer.

Text is turned into CMU phones with timings by flite (``flite -psdur``), the same engine and voice
family whose timings the demo model was trained on. Phone names from flite (lower-case cmulex,
with ``ax`` for schwa) and from pocketsphinx alignments (upper-case CMU, ``SIL`` and noise fillers)
are mapped onto one table: ``pau`` plus the 39 CMU phones.

    >>> [p for p, _, _ in flite_phones("Hi.")]
    ['pau', 'hh', 'ay', 'pau']
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)

PHONES = ("pau", "aa", "ae", "ah", "ao", "aw", "ay", "b", "ch", "d", "dh", "eh", "er", "ey", "f", "g", "hh",
          "ih", "iy", "jh", "k", "l", "m", "n", "ng", "ow", "oy", "p", "r", "s", "sh", "t", "th", "uh", "uw",
          "v", "w", "y", "z", "zh")
PHONE_TO_ID = {p: i for i, p in enumerate(PHONES)}
PAD_PHONE_ID = len(PHONES)  # the embedding row used for padding
_ALIASES = {"ax": "ah", "sil": "pau", "sp": "pau", "spn": "pau", "h#": "pau"}

Timing = tuple[str, float, float]  # (phone, start seconds, end seconds)


class PhonesError(RuntimeError):
    """Text could not be turned into phones (flite missing or failing); the message says what to do."""


def normalize_phone(name: str) -> str:
    """Any flite / CMU / pocketsphinx phone name -> an entry of PHONES (fillers and silences -> "pau")."""
    name = name.strip().lower().rstrip("012")
    name = _ALIASES.get(name, name)
    if name in PHONE_TO_ID:
        return name
    return "pau"  # +NSN+, +SPN+, <sil> and other fillers are non-speech


def parse_psdur(stdout: str, time_scale: float = 1.0) -> list[Timing] | None:
    """flite -psdur output ``phone:end_time ...`` -> [(phone, start_s, end_s), ...] (None if unparsable)."""
    phones, start = [], 0.0
    for token in stdout.split():
        name, _, end = token.rpartition(":")
        try:
            t = float(end) * time_scale
        except ValueError:
            return None
        phones.append((name, round(start, 4), round(t, 4)))
        start = t
    return phones or None


def flite_phones(text: str, voice: str = "slt", stretch: float = 1.0) -> list[Timing]:
    """Phones and their timings for `text` as flite's `voice` would say it (no audio is written).

    stretch: multiplies every duration (>1 is slower).
    Raises PhonesError when flite is not installed or fails.
    """
    if not shutil.which("flite"):
        raise PhonesError("the demo synthesizer needs flite for its phone timings (Debian: apt install flite)")
    cmd = ["flite", "-voice", voice, "-psdur", "--setf", f"duration_stretch={stretch:.4f}", "-t", text, "-o", "none"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
    timings = parse_psdur(proc.stdout) if proc.returncode == 0 else None
    if timings is None:
        raise PhonesError(f"flite could not read {text[:60]!r}: {proc.stderr.strip()[-200:] or 'no phones printed'}")
    return timings


def to_frames(timings: Sequence[Timing], frames_per_second: float, n_frames: int | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Timings -> (phone IDs (N,) int64, durations in frames (N,) int64).

    Boundaries are rounded to frames from the cumulative times, so the durations add up exactly to the
    rounded end time (or to `n_frames` when given: the last phone absorbs the difference, phones past
    the end are dropped). Consecutive pauses are merged; zero-length phones are kept at length 0.
    """
    ids: list[int] = []
    ends: list[int] = []
    for name, _, end in timings:
        pid = PHONE_TO_ID[normalize_phone(name)]
        frame = int(round(end * frames_per_second))
        if ids and pid == PHONE_TO_ID["pau"] and ids[-1] == pid:
            ends[-1] = frame
            continue
        ids.append(pid)
        ends.append(frame)
    bounds = np.maximum.accumulate(np.asarray(ends, dtype=np.int64)) if ends else np.zeros(0, np.int64)
    if n_frames is not None:
        keep = int(np.searchsorted(bounds, n_frames, side="left")) + 1
        ids, bounds = ids[:keep], bounds[:keep].copy()
        if len(bounds):
            bounds[-1] = n_frames
    durations = np.diff(np.concatenate([[0], bounds])).astype(np.int64)
    return np.asarray(ids, dtype=np.int64), durations
