"""Fold plans, fold envelopes and the output finisher (mu-law decode, de-emphasis, fade-out).

A *fold* is a window of the (padded) conditioning sequence generated as one autoregressive row of a
batch. Fold ``i`` covers ``[offset_i, offset_i + length_i)``; consecutive folds overlap by ``overlap``
samples: ``offset_{i+1} = offset_i + length_i - overlap``. Each fold's first and last ``overlap``
samples are multiplied by envelopes built from equal-power halves over ``h = overlap // 2`` samples
(``fade_in = sqrt(0.5 (1 + t))``, ``fade_out = sqrt(0.5 (1 - t))``, ``t = linspace(-1, 1)``), then
the folds are overlap-added. There are two envelopes (``FoldPlan.envelope``):

* ``"reference"`` -- what the reference implementation's ``xfade_and_unfold`` does, used by the
  published plan (:func:`uniform_plan`, ``schedule="published"``): head ``[zeros(h), fade_in]``, tail
  ``[fade_out, zeros(h)]``. Each half of an overlap belongs to one fold: fold i fades out over the
  first half, fold i+1 (after ``h`` discarded warm-up samples) fades in over the second, so the
  amplitude dips to 0 in the middle of every join (below -6 dB for h / 2 samples, 12.5 ms at the
  published overlap of 800, once per fold: every 0.55 s).
* ``"crossfade"`` -- used by the streaming plans (:func:`streaming_plan`, :func:`just_in_time_plan`):
  head ``[zeros(h), fade_in]``, tail ``[ones(h), fade_out]`` (the upstream fatchord variant), a true
  equal-power cross-fade over the second half of the overlap with no dip. This is a deliberate
  difference from the reference: it removes that periodic dip (see the README).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter


@dataclass(frozen=True)
class FoldPlan:
    """Fold offsets and lengths (samples) over a conditioning sequence of `total` samples."""

    offsets: tuple[int, ...]
    lengths: tuple[int, ...]
    overlap: int
    total: int  # real (unpadded) conditioning length
    envelope: str = "crossfade"  # "reference" or "crossfade" (see the module docstring)

    @property
    def num_folds(self) -> int:
        return len(self.offsets)

    @property
    def padded_total(self) -> int:
        """Length of the overlap-added output (>= total; the tail beyond `total` is padding)."""
        return self.offsets[-1] + self.lengths[-1]

    @property
    def steps(self) -> int:
        """Sequential steps when all folds run in lock-step from step 0."""
        return max(self.lengths)


def uniform_plan(total: int, target: int = 8000, overlap: int = 800) -> FoldPlan:
    """The published folding: num_folds = (total - overlap) // (target + overlap), plus one padded
    fold when samples are left over; every fold is target + 2 overlap long."""
    if target <= 0 or overlap < 0:
        raise ValueError(f"invalid fold target {target} / overlap {overlap}")
    n = max(0, (total - overlap) // (target + overlap))
    if total - (n * (target + overlap) + overlap) != 0:
        n += 1
    n = max(n, 1)
    offsets = tuple(i * (target + overlap) for i in range(n))
    return FoldPlan(offsets, (target + 2 * overlap,) * n, overlap, total, envelope="reference")


def streaming_plan(total: int, target: int = 4000, overlap: int = 400, first_target: int = 400,
                   growth: float = 1.25) -> FoldPlan:
    """Folds whose targets grow geometrically from `first_target` up to `target`, then stay there.

    With every fold started at step 0, fold i is final after `length_i` steps, so short early folds
    make the start of the audio final quickly while later, longer folds keep the batch busy. Same
    overlap and overlap-add as the published plan, but the cross-fade envelope; the last fold is padded.
    """
    if target <= 0 or first_target <= 0 or overlap < 0 or growth < 1.0:
        raise ValueError("invalid streaming plan parameters")
    offsets, lengths = [], []
    pos, t = 0, float(min(first_target, target))
    while True:
        tgt = int(round(t))
        offsets.append(pos)
        lengths.append(tgt + 2 * overlap)
        if pos + tgt + 2 * overlap >= total:
            break
        pos += tgt + overlap
        t = min(float(target), t * growth)
    # Shrink the last fold to what is needed (keeps its envelopes), instead of padding a long fold.
    # The whole tail envelope stays beyond `total`, so real samples never see the last fade-out.
    need = total - offsets[-1] + overlap
    lengths[-1] = max(min(lengths[-1], need), 2 * overlap + 1)
    return FoldPlan(tuple(offsets), tuple(lengths), overlap, total)


def plan_for_rows(total: int, rows: int = 32, overlap: int = 400, first_target: int = 400,
                  growth: float = 1.25, max_target: int = 8000) -> FoldPlan:
    """The streaming plan with the smallest fold target (fewest sequential steps) that needs at most
    `rows` folds (batch rows): per-step matmuls are most efficient at a fixed, sizeable batch."""
    lo, hi = max(first_target, 2 * overlap), max_target
    if streaming_plan(total, hi, overlap, first_target, growth).num_folds > rows:
        return streaming_plan(total, hi, overlap, first_target, growth)
    while hi - lo > 50:
        mid = (lo + hi) // 2
        if streaming_plan(total, mid, overlap, first_target, growth).num_folds <= rows:
            hi = mid
        else:
            lo = mid
    return streaming_plan(total, hi, overlap, first_target, growth)


def just_in_time_plan(total: int, rows: int = 64, overlap: int = 400, step_time: float = 1e-3,
                      start_s: float = 0.5, sample_rate: int = 16_000, max_length: int = 20_000) -> FoldPlan:
    """A streaming plan whose folds finish in time order, each before playback needs it.

    With every fold started at step 0 and taking `step_time` seconds per step, fold k is final after
    L_k steps; playback started at `start_s` reaches its end at start_s + (o_k + L_k) / sr. So
    L_k <= (start_s + o_k / sr) / (step_time - 1 / sr): lengths grow with the offset. They are capped
    at the smallest L_max that needs at most `rows` folds (fewest sequential steps for that batch).
    If even the longest cap needs more rows, the start time is relaxed until the plan fits.
    """
    lo_len = 2 * overlap + 200  # shortest fold: warm-up + fades + some real audio
    rate = max(step_time - 1.0 / sample_rate, 1e-6)

    def build(cap: int, start: float) -> FoldPlan:
        offsets, lengths, o = [], [], 0
        while True:
            L = int(min(cap, max(lo_len, (start + o / sample_rate) / rate)))
            offsets.append(o)
            lengths.append(L)
            if o + L >= total:
                break
            o += L - overlap
        lengths[-1] = max(min(lengths[-1], total - offsets[-1] + overlap), 2 * overlap + 1)
        return FoldPlan(tuple(offsets), tuple(lengths), overlap, total)

    start = start_s
    while build(max_length, start).num_folds > rows and start < 60.0:
        start *= 1.5
    lo, hi = lo_len, max_length
    while hi - lo > 25:
        mid = (lo + hi) // 2
        if build(mid, start).num_folds <= rows:
            hi = mid
        else:
            lo = mid
    return build(hi, start)


ENVELOPES = ("reference", "crossfade")


def envelopes(overlap: int, kind: str = "crossfade") -> tuple[np.ndarray, np.ndarray]:
    """(head, tail) float64 envelopes of `overlap` samples each, applied to the first and the last
    `overlap` samples of every fold. kind: "reference" or "crossfade" (see the module docstring)."""
    if kind not in ENVELOPES:
        raise ValueError(f"envelope must be one of {ENVELOPES}, got {kind!r}")
    silence_len = overlap // 2
    fade_len = overlap - silence_len
    t = np.linspace(-1.0, 1.0, fade_len, dtype=np.float64)
    head = np.concatenate([np.zeros(silence_len), np.sqrt(0.5 * (1.0 + t))])
    if kind == "reference":
        tail = np.concatenate([np.sqrt(0.5 * (1.0 - t)), np.zeros(silence_len)])
    else:
        tail = np.concatenate([np.ones(silence_len), np.sqrt(0.5 * (1.0 - t))])
    return head, tail


def fold_index(plan: FoldPlan) -> np.ndarray:
    """(num_folds, max_length) int64 indices into the padded conditioning; rows shorter than the
    longest fold point past the end (at padded_total, a zero row the caller provides)."""
    width = max(plan.lengths)
    idx = np.full((plan.num_folds, width), plan.padded_total, dtype=np.int64)
    for i, (o, n) in enumerate(zip(plan.offsets, plan.lengths, strict=True)):
        idx[i, :n] = np.arange(o, o + n)
    return idx


def overlap_add(folds: list[np.ndarray], plan: FoldPlan) -> np.ndarray:
    """Apply the plan's envelopes and overlap-add whole folds (float64). folds[i]: (lengths[i],).
    Returns (padded_total,)."""
    fade_in, fade_out = envelopes(plan.overlap, plan.envelope)
    ov = plan.overlap
    out = np.zeros(plan.padded_total, dtype=np.float64)
    for y, o in zip(folds, plan.offsets, strict=True):
        y = np.asarray(y, dtype=np.float64).copy()
        if ov:
            y[:ov] *= fade_in
            y[-ov:] *= fade_out
        out[o:o + len(y)] += y
    return out


def decode_mu_law(y: np.ndarray, bits: int) -> np.ndarray:
    """Inverse mu-law companding of values in [-1, 1]: sign(y) ((mu + 1)^|y| - 1) / mu, mu = 2^bits - 1."""
    mu = float(2 ** bits - 1)
    return np.sign(y) * (np.power(mu + 1.0, np.abs(y)) - 1.0) / mu


def labels_to_float(labels: np.ndarray, bits: int) -> np.ndarray:
    """Class indices -> [-1, 1]: 2 c / (2^bits - 1) - 1."""
    return 2.0 * np.asarray(labels, dtype=np.float64) / (2 ** bits - 1) - 1.0


class Finisher:
    """Turns overlap-added samples (in time order, any chunking) into final audio: mu-law decode,
    de-emphasis (stateful across chunks), crop to `wave_len`, linear fade-out over the last `fade_len`."""

    def __init__(self, wave_len: int, bits: int, mu_law: bool = True, preemphasis: float = 0.97,
                 fade_len: int = 4000) -> None:
        self.wave_len = wave_len
        self.bits = bits
        self.mu_law = mu_law
        self.k = preemphasis
        self.fade_start = max(0, wave_len - fade_len)
        ramp = np.linspace(1.0, 0.0, fade_len)
        self.fade = ramp[len(ramp) - (wave_len - self.fade_start):]  # shorter audio: the ramp's end
        self.pos = 0
        self.zi = np.zeros(1)

    def push(self, y: np.ndarray) -> np.ndarray:
        """y: (n,) float overlap-added values in [-1, 1] for positions [pos, pos + n). Returns float32."""
        y = np.asarray(y, dtype=np.float64)
        if self.mu_law:
            y = decode_mu_law(y, self.bits)
        if self.k:
            y, self.zi = lfilter([1.0], [1.0, -self.k], y, zi=self.zi)
        start, end = self.pos, min(self.pos + len(y), self.wave_len)
        self.pos += len(y)
        if end <= start:
            return np.zeros(0, dtype=np.float32)
        y = y[: end - start]
        lo = max(start, self.fade_start)
        if lo < end:
            y[lo - start:] *= self.fade[lo - self.fade_start:end - self.fade_start]
        return y.astype(np.float32)

    @property
    def done(self) -> bool:
        return self.pos >= self.wave_len
