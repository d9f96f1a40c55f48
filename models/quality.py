"""Advice on inputs before they are used: is a reference recording good enough to clone a voice
from, and can the synthesizer speak a text's script at all?

Nothing here refuses an input (except a silent reference, which the encoder cannot use): the CLI
prints the advice as warnings and the toolbox shows it in the status area and marks the voice.
Thresholds are deliberately loose, to flag clearly bad references only (the published encoder's
similarity drops to that of another speaker on a 0.3 s, clipped or DC-shifted clip).
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from models.audio import SAMPLE_RATE, VadConfig, preprocess_for_encoder, speech_mask, vad_flags

log = logging.getLogger(__name__)

_VAD = VadConfig()


@dataclass(frozen=True)
class QualityLimits:
    """When a reference gets advice. Levels are relative to full scale (1.0)."""

    min_speech_s: float = 2.0  # speech left after VAD trimming
    max_clipped_fraction: float = 1e-3  # samples stuck at the peak, when the peak is near full scale
    max_dc_offset: float = 0.05  # |mean|
    min_rms_dbfs: float = -50.0  # very low level (before the encoder's normalisation)
    min_snr_db: float = 10.0  # speech windows vs non-speech windows
    min_speech_fraction: float = 0.3  # below this, the clip is mostly silence


@dataclass(frozen=True)
class ReferenceReport:
    """Measurements of one reference recording and the advice they lead to (empty when fine)."""

    duration_s: float
    speech_s: float
    peak: float
    clipped_fraction: float
    dc_offset: float
    rms_dbfs: float
    snr_db: float | None  # None when there is too little non-speech to estimate it
    advice: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.advice


def assess_reference(wav: np.ndarray, source: str = "audio", limits: QualityLimits = QualityLimits()
                     ) -> ReferenceReport:
    """Measure a 16 kHz mono reference (L,) float32 and advise on it.

    Raises:
        AudioError: the audio is silent or holds no detectable speech (the encoder cannot use it).
    """
    wav = np.asarray(wav, dtype=np.float32)
    speech = preprocess_for_encoder(wav, source)  # raises on silence, naming `source`
    duration = len(wav) / SAMPLE_RATE
    speech_s = len(speech) / SAMPLE_RATE
    peak = float(np.max(np.abs(wav)))
    dc = float(np.mean(wav))
    rms = float(np.sqrt(np.mean(np.square(wav - dc, dtype=np.float64))))
    rms_dbfs = 20 * np.log10(max(rms, 1e-10))
    clipped = float(np.mean(np.abs(wav) >= 0.999 * peak)) if peak >= 0.95 else 0.0
    snr = _snr_db(wav - dc)

    advice = []
    if speech_s < limits.min_speech_s:
        advice.append(f"only {speech_s:.1f} s of speech (use at least {limits.min_speech_s:.0f} s, ideally 5-10 s)")
    if peak > 1.0 + 1e-3:
        advice.append(f"samples far beyond full scale (peak {peak:.2f}); the file was saved without limiting")
    if clipped > limits.max_clipped_fraction:
        advice.append(f"clipped ({100 * clipped:.1f} % of the samples at the peak); record at a lower level")
    if abs(dc) > limits.max_dc_offset:
        advice.append(f"DC offset {dc:+.2f} (a faulty microphone or sound card)")
    if rms_dbfs < limits.min_rms_dbfs:
        advice.append(f"very low level ({rms_dbfs:.0f} dBFS); record closer to the microphone")
    if snr is not None and snr < limits.min_snr_db:
        advice.append(f"noisy (signal-to-noise ratio about {snr:.0f} dB)")
    if duration > 0 and speech_s / duration < limits.min_speech_fraction and duration >= 2 * limits.min_speech_s:
        advice.append(f"mostly silence ({100 * speech_s / duration:.0f} % speech)")
    return ReferenceReport(duration, speech_s, peak, clipped, dc, rms_dbfs, snr, tuple(advice))


def _snr_db(wav: np.ndarray, config: VadConfig = _VAD) -> float | None:
    """Power of the speech windows over that of the non-speech windows (webrtcvad), in dB."""
    win = config.window_ms * SAMPLE_RATE // 1000
    n = len(wav) // win
    if n < 10:
        return None
    peak = float(np.max(np.abs(wav))) or 1.0
    flags = vad_flags(wav / peak * 0.5, config)  # VAD on a normalised copy
    mask = speech_mask(flags, config)[:n]
    power = np.mean(np.square(wav[: n * win].reshape(n, win), dtype=np.float64), axis=1)
    if mask.sum() < 3 or (~mask).sum() < 5:
        return None
    noise = float(np.mean(power[~mask]))
    return float(10 * np.log10(float(np.mean(power[mask])) / max(noise, 1e-12)))


def warn_reference(wav: np.ndarray, source: str) -> ReferenceReport:
    """assess_reference, with each piece of advice logged as a warning naming `source`."""
    report = assess_reference(wav, source)
    for line in report.advice:
        log.warning("%s: %s", source, line)
    return report


# ------------------------------------------------------------------------------------------------ text
def unsupported_scripts(text: str) -> dict[str, int]:
    """Letters of `text` that are not Latin, counted by script ("CYRILLIC": 6, "CJK": 2, ...).

    The synthesizers speak English: other scripts are transliterated (unidecode) and read with
    English rules, which rarely sounds like the original language.
    """
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        script = name.split(" ")[0] if name else "UNKNOWN"
        if script == "LATIN":
            continue
        counts[script] = counts.get(script, 0) + 1
    return counts


def warn_text(text: str) -> dict[str, int]:
    """Log a warning naming the scripts of `text` the synthesizer cannot speak; returns them."""
    scripts = unsupported_scripts(text)
    if scripts:
        named = ", ".join(f"{s.title()} ({n} letter{'s' if n > 1 else ''})" for s, n in scripts.items())
        log.warning("the text contains letters the synthesizer cannot speak: %s; they will be "
                    "transliterated and read as English", named)
    return scripts
