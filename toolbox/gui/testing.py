"""Small stand-ins for the model layer, for tests and for trying the GUI without model files.

:class:`FakeEngine` follows :class:`toolbox.gui.engine.Engine`: embeddings are a fixed random
projection of the utterance's mean mel (so different voices land in different places), the
"synthesizer" returns one smooth mel per sentence and the "vocoder" streams a tone per 1600
samples. `delay` slows every step down (seconds) so tests can cancel mid-run; `fail` maps a method
name to an exception it raises. Like the demo synthesizer it has speed and pitch controls (unless
`controls=False`, like the published Tacotron): speed divides the mel's length, and every call's
(speed, pitch_shift) is kept in :attr:`FakeEngine.controls_seen` and its voice match in
:attr:`FakeEngine.voice_match_seen`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from models.vocoding import Cancelled
from toolbox.gui.engine import GRIFFIN_LIM

HOP = 200


class FakeEngine:
    def __init__(self, delay: float = 0.0, fail: dict[str, Exception] | None = None,
                 controls: bool = True) -> None:
        self.delay = delay
        self.fail = dict(fail or {})
        self.controls = controls
        self.controls_seen: list[tuple[float | None, float | None]] = []
        self.voice_match_seen: list[float | None] = []
        self.selected = self.defaults()
        self.loads: list[str] = []
        self.calls: list[str] = []
        self._proj = np.random.default_rng(0).standard_normal((256, 80)).astype(np.float32)

    def choices(self) -> dict[str, list[str]]:
        return {"encoder": ["fake-encoder"], "synthesizer": ["fake-synthesizer"],
                "vocoder": ["fake-wavernn", GRIFFIN_LIM]}

    def defaults(self) -> dict[str, str]:
        return {k: v[0] for k, v in self.choices().items()}

    def select(self, kind: str, name: str) -> None:
        self.selected[kind] = name

    def ensure(self, kind: str) -> str:
        self.loads.append(kind)
        return f"{kind} {self.selected[kind]}"

    def _maybe_fail(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise self.fail[name]

    def embed(self, wav: np.ndarray) -> np.ndarray:
        self._maybe_fail("embed")
        from models.audio import synth_mel

        mel = synth_mel(np.asarray(wav, np.float32)[:16000 * 4])
        e = self._proj @ (mel.mean(axis=1) + 4.0)
        e = np.maximum(e, 0) + 1e-3
        return (e / np.linalg.norm(e)).astype(np.float32)

    def split(self, text: str) -> list[str]:
        sentences = [s for s in (p.strip() for p in text.replace(".", ".\n").splitlines()) if s]
        if not sentences:
            raise ValueError("the text is empty")
        return sentences

    def supports_controls(self) -> bool:
        return self.controls

    def synthesize(self, texts, embedding, *, seed, progress, cancel, speed=None,
                   pitch_shift=None, voice_match=None) -> list[np.ndarray]:
        self._maybe_fail("synthesize")
        if not self.controls and (speed not in (None, 1.0) or pitch_shift not in (None, 0.0)
                                  or voice_match not in (None, 0.0)):
            raise ValueError("this synthesizer has no speed, pitch or voice match control")
        self.controls_seen.append((speed, pitch_shift))
        self.voice_match_seen.append(voice_match)
        sentences = self.split(texts) if isinstance(texts, str) else list(texts)
        rng = np.random.default_rng(seed)
        mels = []
        for i, s in enumerate(sentences):
            frames = max(2, round((10 + 5 * len(s.split())) / (speed or 1.0)))
            t = np.linspace(0, 1, frames)
            f = np.linspace(0, 1, 80)[:, None]
            mel = 3 * np.sin(2 * np.pi * (f * 2 + t * (i + 1))) - 1 + 0.1 * rng.standard_normal((80, frames))
            mels.append(np.clip(mel, -4, 4).astype(np.float32))
            if self.delay:
                time.sleep(self.delay)
            progress((i + 1) / len(sentences), "synthesizing")
            if cancel.is_set():
                raise Cancelled("synthesis cancelled")
        return mels

    def vocode(self, mel, *, seed, progress, cancel) -> Iterator[np.ndarray]:
        self._maybe_fail("vocode")
        total = (mel.shape[1] - 1) * HOP
        pieces = max(1, total // 1600)
        base = 0
        for k in range(pieces):
            n = total - base if k == pieces - 1 else 1600
            t = (np.arange(base, base + n) / 16000).astype(np.float32)
            base += n
            if self.delay:
                time.sleep(self.delay)
            progress(base / total, "vocoding")
            if cancel.is_set():
                raise Cancelled("vocoding cancelled")
            yield (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def make_window(engine=None, backend=None, *, tmp_dir, known=None, seed=None, datasets_root=None,
                umap: bool = False, warm_up: bool = False):
    """A MainWindow wired to test doubles: settings and voice profiles under `tmp_dir`, the
    projection on a thread with PCA (or UMAP in-process with `umap=True`). Returns (window, executor);
    call ``window.shutdown()`` and ``executor.shutdown()`` at teardown.
    """
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from PySide6.QtCore import QSettings

    from toolbox.audio_io import FakeAudioBackend
    from toolbox.gui.main_window import MainWindow
    from toolbox.gui.projection import Projector
    from toolbox.gui.session import VoiceProfiles

    tmp_dir = Path(tmp_dir)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection")
    projector = Projector(known.embeddings if known is not None else None, executor=executor,
                          method="umap" if umap else "pca")
    window = MainWindow(engine or FakeEngine(), backend or FakeAudioBackend(speed=20.0),
                        datasets_root=datasets_root, seed=seed,
                        settings=QSettings(str(tmp_dir / "settings.ini"), QSettings.Format.IniFormat),
                        profiles=VoiceProfiles(tmp_dir / "voices"), known=known, projector=projector,
                        warm_up=warm_up)
    projector.setParent(window)
    return window, executor


def harmonic_voice(f0: float, seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    """A vowel-like 16 kHz harmonic signal at pitch f0 (different f0 -> different fake embedding)."""
    t = np.arange(int(seconds * 16000)) / 16000
    wav = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12))
    wav = wav + 0.01 * np.random.default_rng(seed).standard_normal(len(t))
    return (0.3 * wav / np.abs(wav).max()).astype(np.float32)


class EmptyStore:
    """A model store with nothing in it (models are given to the engine directly)."""

    def entries(self) -> list:
        return []

    def path(self, name: str) -> None:
        return None

    def get(self, name: str):
        raise FileNotFoundError(name)
