"""The one model worker: a QObject living on its own QThread that owns the models.

The GUI talks to it only through :class:`WorkerHandle` (queued signals in, queued signals out);
cancellation is a job number the worker compares against between steps and in every progress
callback, so Stop takes effect mid-model-call. Exceptions are logged with their traceback and
reported through :attr:`ModelWorker.failed`; the worker keeps running.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from models.audio import SAMPLE_RATE
from models.vocoding import Cancelled
from toolbox.gui.engine import Engine

log = logging.getLogger(__name__)

GAP_SECONDS = 0.15  # silence between sentences, as in the reference toolbox
SYNTH_SHARE = 0.15  # share of a sentence's progress given to synthesis when it is also vocoded


@dataclass
class GenerateRequest:
    """One click of Synthesize / Vocode.

    mode: "both" (synthesize then vocode while streaming), "synthesize" or "vocode" (`mels` given).
    speed, pitch_shift, voice_match: the synthesizer's controls for this job (None: leave them alone).
    """

    job: int
    mode: str
    text: str = ""
    embedding: np.ndarray | None = None
    mels: list[np.ndarray] = field(default_factory=list)
    seed: int | None = None
    vocoder: str = ""
    speed: float | None = None
    pitch_shift: float | None = None
    voice_match: float | None = None


class ModelWorker(QObject):
    status = Signal(str)
    failed = Signal(str, str)  # what, message
    embedded = Signal(int, object)  # uid, (256,) float32
    embed_failed = Signal(int, str)  # uid, message
    mel_ready = Signal(int, int, object)  # job, sentence index, (80, T) mel
    sentence = Signal(int, int, int)  # job, sentence index, number of sentences
    audio = Signal(int, object)  # job, (n,) float32 16 kHz chunk
    progress = Signal(int, float, float)  # job, fraction in [0, 1], real-time factor (0 if unknown)
    finished = Signal(int, str)  # job, "done" | "cancelled" | "failed"
    models_ready = Signal(str)
    controls_supported = Signal(bool)  # the selected synthesizer has speed and pitch controls

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self._cancel_upto = 0  # jobs <= this are cancelled (written by the GUI thread)
        self._lock = threading.Lock()
        self._running: tuple[int, threading.Event] | None = None
        self._closing = False  # set by WorkerHandle.shutdown: skip queued work

    # -- called from the GUI thread ------------------------------------------------------------------
    def cancel(self, job: int) -> None:
        with self._lock:
            self._cancel_upto = max(self._cancel_upto, job)
            if self._running is not None and self._running[0] <= job:
                self._running[1].set()

    def _cancelled(self, job: int) -> bool:
        return job <= self._cancel_upto

    # -- slots (worker thread) -----------------------------------------------------------------------
    @Slot(str, str)
    def select_model(self, kind: str, name: str) -> None:
        self.engine.select(kind, name)
        if kind == "synthesizer":
            self._report_controls()

    def _report_controls(self) -> None:
        check = getattr(self.engine, "supports_controls", None)
        try:
            supported = bool(check()) if check is not None else False
        except Exception as e:  # an engine that cannot tell: the controls are offered as disabled
            log.warning("cannot tell whether the synthesizer has speed and pitch controls: %s", e)
            supported = False
        self.controls_supported.emit(supported)

    @Slot(object)
    def warm_up(self, kinds) -> None:
        """Load models ahead of need so the first click is quick; failures only become status."""
        for kind in kinds:
            if self._closing:
                return
            try:
                self.status.emit(f"Loading {kind}…")
                self.status.emit(f"Loaded {self.engine.ensure(kind)}")
                if kind == "synthesizer":
                    self._report_controls()  # now from the loaded model
            except Exception as e:
                log.warning("could not load %s: %s", kind, e)
                self.failed.emit(f"Loading the {kind}", str(e))
        self.models_ready.emit(",".join(kinds))

    @Slot(int, object)
    def embed(self, uid: int, wav: np.ndarray) -> None:
        if self._closing:
            return
        try:
            self.embedded.emit(uid, self.engine.embed(wav))
        except Exception as e:
            log.exception("embedding utterance %d failed", uid)
            self.embed_failed.emit(uid, str(e))
            self.failed.emit("Embedding", str(e))

    @Slot(object)
    def generate(self, req: GenerateRequest) -> None:
        """Sentence by sentence: synthesize sentence i (mel_ready), vocode it (audio chunks), then i + 1.

        Cancel is checked before every sentence and in every progress report of the models, so a
        Stop lands within one model step; the GUI does not wait for it (it ends the job at once).
        """
        job = req.job
        if self._cancelled(job):
            self.finished.emit(job, "cancelled")
            return
        event = threading.Event()
        with self._lock:
            self._running = (job, event)
            if self._cancelled(job):
                event.set()
        start = time.perf_counter()
        produced = [0]

        def check() -> None:
            if event.is_set():
                raise Cancelled("generation cancelled")

        def rtf() -> float:
            return (time.perf_counter() - start) / (produced[0] / SAMPLE_RATE) if produced[0] else 0.0

        try:
            synth = req.mode in ("both", "synthesize")
            vocode = req.mode in ("both", "vocode")
            texts: list[str | None] = list(self.engine.split(req.text)) if synth else [None] * len(req.mels)
            n = len(texts)
            if synth:
                self.status.emit(f"Synthesizing {n} sentence(s) with {self.engine.ensure('synthesizer')}…")
            if vocode:
                if req.vocoder:
                    self.engine.select("vocoder", req.vocoder)
                check()
                self.status.emit(f"Vocoding with {self.engine.ensure('vocoder')}…")
            share = SYNTH_SHARE if synth and vocode else (1.0 if synth else 0.0)
            for i, text in enumerate(texts):
                check()
                self.sentence.emit(job, i, n)

                def report(fraction: float, message: str = "", lo: float = 0.0, span: float = 1.0, i=i) -> None:
                    check()
                    f = (i + lo + span * min(max(fraction, 0.0), 1.0)) / n
                    self.progress.emit(job, f, rtf())

                self.progress.emit(job, i / n, rtf())
                seed = None if req.seed is None else req.seed + i  # chunk i uses seed + i, as models.pipeline
                if synth:
                    (mel,) = self.engine.synthesize([text], req.embedding, seed=seed, cancel=event,
                                                    progress=lambda f, m="", r=report: r(f, m, 0.0, share),
                                                    speed=req.speed, pitch_shift=req.pitch_shift,
                                                    voice_match=req.voice_match)
                    check()
                    self.mel_ready.emit(job, i, mel)
                else:
                    mel = req.mels[i]
                if vocode:
                    if i > 0:
                        gap = np.zeros(int(GAP_SECONDS * SAMPLE_RATE), np.float32)
                        produced[0] += len(gap)
                        self.audio.emit(job, gap)
                    def voc_progress(f: float, m: str = "", r=report) -> None:
                        r(f, m, share, 1.0 - share)

                    for chunk in self.engine.vocode(mel, seed=seed, progress=voc_progress, cancel=event):
                        check()
                        chunk = np.clip(np.asarray(chunk, np.float32).reshape(-1), -1.0, 1.0)
                        produced[0] += len(chunk)
                        self.audio.emit(job, chunk)
            self.progress.emit(job, 1.0, rtf())
            self.status.emit(f"Done in {time.perf_counter() - start:.1f} s"
                             + (f" ({rtf():.2f} s of work per second of audio)" if produced[0] else ""))
            self.finished.emit(job, "done")
        except Cancelled:
            log.info("generation %d stopped", job)
            self.status.emit("Stopped")
            self.finished.emit(job, "cancelled")
        except Exception as e:
            log.exception("generation failed")
            self.failed.emit("Generation", f"{type(e).__name__}: {e}")
            self.finished.emit(job, "failed")
        finally:
            with self._lock:
                self._running = None


class WorkerHandle(QObject):
    """Lives on the GUI thread; owns the worker thread and forwards requests as queued signals."""

    _select = Signal(str, str)
    _warm = Signal(object)
    _embed = Signal(int, object)
    _generate = Signal(object)

    def __init__(self, engine: Engine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("model-worker")
        self.worker = ModelWorker(engine)
        self.worker.moveToThread(self.thread)
        self._select.connect(self.worker.select_model)
        self._warm.connect(self.worker.warm_up)
        self._embed.connect(self.worker.embed)
        self._generate.connect(self.worker.generate)
        self._job = 0
        self.thread.start()

    def select_model(self, kind: str, name: str) -> None:
        self._select.emit(kind, name)

    def warm_up(self, kinds: tuple[str, ...]) -> None:
        self._warm.emit(tuple(kinds))

    def embed(self, uid: int, wav: np.ndarray) -> None:
        self._embed.emit(uid, wav)

    def generate(self, **kwargs) -> int:
        self._job += 1
        self._generate.emit(GenerateRequest(job=self._job, **kwargs))
        return self._job

    def cancel(self, job: int | None = None) -> None:
        self.worker.cancel(self._job if job is None else job)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel everything, stop the thread and wait for it (returns False if it did not stop)."""
        self.worker._closing = True
        self.worker.cancel(self._job + 1_000_000)
        self.thread.quit()
        ok = self.thread.wait(timeout_ms)
        if not ok:
            log.warning("the model worker did not stop within %d ms (inside one model call)", timeout_ms)
        return ok
