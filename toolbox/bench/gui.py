"""GUI responsiveness: start-up time and the longest event-loop stall during a full generation.

Runs the real toolbox window offscreen with published-size models (random weights: Tacotron run to
its length guard, WaveRNN or Griffin-Lim) loaded lazily on the model worker, a fake audio device
playing in real time, and a 5 ms probe timer on the GUI thread. A stall is the delay of a probe
tick beyond its interval. Targets: start-up <= 3 s, longest stall <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np

TARGET_STARTUP_S = 3.0
TARGET_STALL_MS = 50.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text", default="This is a benchmark of the toolbox. It measures how long the "
                        "interface freezes while a voice is generated.")
    parser.add_argument("--vocoder", choices=["wavernn", "griffin-lim"], default="wavernn")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")


def run(args: argparse.Namespace) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    t0 = time.perf_counter()
    from PySide6.QtCore import QElapsedTimer, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["sv2tts bench gui"])
    import tempfile
    from pathlib import Path

    from toolbox.audio_io import FakeAudioBackend
    from toolbox.gui.engine import GRIFFIN_LIM, StoreEngine
    from toolbox.gui.main_window import MainWindow
    from toolbox.gui.session import KnownSpeakers, Utterance, VoiceProfiles
    from toolbox.gui.testing import EmptyStore

    tmp = Path(tempfile.mkdtemp(prefix="sv2tts-bench-gui-"))
    vocoder_name = "random WaveRNN" if args.vocoder == "wavernn" else GRIFFIN_LIM
    factories = {"encoder": ("random encoder", _encoder), "synthesizer": ("random Tacotron", _synthesizer)}
    if args.vocoder == "wavernn":
        factories["vocoder"] = (vocoder_name, _wavernn)
    engine = StoreEngine(store=EmptyStore(), factories=factories)
    window = MainWindow(engine, FakeAudioBackend(speed=1.0), settings=QSettings(
        str(tmp / "settings.ini"), QSettings.Format.IniFormat), profiles=VoiceProfiles(tmp / "voices"),
        known=KnownSpeakers.load())
    window.show()
    shown = {}
    QTimer.singleShot(0, lambda: shown.setdefault("t", time.perf_counter()))
    _spin(app, lambda: "t" in shown, 30)
    startup = shown["t"] - t0

    # Models load lazily on the worker; wait for them (not part of the measurement).
    loaded = time.perf_counter()
    _spin(app, lambda: not window._warm_queue and len(engine._loaded) == 3, args.timeout)
    load_s = time.perf_counter() - loaded
    window.generate_panel.model_boxes["vocoder"].setCurrentText(vocoder_name)
    rng = np.random.default_rng(0)
    emb = np.abs(rng.standard_normal(256)).astype(np.float32)
    voice = Utterance(name="bench voice", speaker="bench", kind="profile", embedding=emb / np.linalg.norm(emb))
    window.utterances[voice.uid] = voice
    window._add_voice_item(voice)
    window.generate_panel.text.setPlainText(args.text)
    window.generate_panel.set_seed(0)

    gaps: list[float] = []
    clock = QElapsedTimer()
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(5)

    times: list[float] = []

    def tick() -> None:
        gaps.append(clock.nsecsElapsed() / 1e6)
        times.append(time.perf_counter() - started)
        clock.restart()

    probe.timeout.connect(tick)
    outcome = {}
    window.generation_finished.connect(lambda job, result: outcome.setdefault("result", result))
    events: list[tuple[float, str]] = []
    w = window.models.worker
    w.mels_ready.connect(lambda *_: events.append((time.perf_counter() - started, "mels")))
    w.audio.connect(lambda *_: events.append((time.perf_counter() - started, "audio")) if not any(
        e[1] == "audio" for e in events) else None)
    w.status.connect(lambda m: events.append((time.perf_counter() - started, m[:30])))
    window.projector.projected.connect(lambda *_: events.append((time.perf_counter() - started, "map")))
    started = time.perf_counter()
    gil_gaps: list[tuple[float, float]] = []
    stop_gil = threading.Event()

    def gil_probe() -> None:  # a plain thread: its gaps are time the GIL was held elsewhere
        last = time.perf_counter()
        while not stop_gil.wait(0.005):
            now = time.perf_counter()
            gil_gaps.append((now - started, (now - last) * 1000 - 5.0))
            last = now

    gil_thread = threading.Thread(target=gil_probe, daemon=True)
    gil_thread.start()
    clock.start()
    probe.start()
    window.generate_panel.both_button.click()
    _spin(app, lambda: "result" in outcome, args.timeout)
    generation_s = time.perf_counter() - started
    probe.stop()
    stop_gil.set()
    gil_thread.join()
    clip = window.outputs.clips[0] if window.outputs.clips else None
    audio_s = len(clip.wav) / 16000 if clip is not None else 0.0
    window.close()
    stalls = np.maximum(np.asarray(gaps[1:] or [0.0]) - 5.0, 0.0)
    report = {
        "vocoder": vocoder_name,
        "outcome": outcome.get("result", "timeout"),
        "startup_s": round(startup, 3),
        "model_load_s": round(load_s, 2),
        "generation_s": round(generation_s, 2),
        "audio_s": round(audio_s, 2),
        "real_time_factor": round(generation_s / audio_s, 3) if audio_s else None,
        "mel_frames": int(sum(m.shape[1] for m in clip.mels)) if clip is not None else 0,
        "probe_ticks": len(gaps),
        "max_stall_ms": round(float(stalls.max()), 1),
        "p99_stall_ms": round(float(np.percentile(stalls, 99)), 1),
        "targets": {"startup_s": TARGET_STARTUP_S, "max_stall_ms": TARGET_STALL_MS},
    }
    worst = np.argsort(stalls)[::-1][:5]
    report["worst_stalls"] = [{"at_s": round(times[i + 1], 3), "ms": round(float(stalls[i]), 1)}
                              for i in worst if stalls[i] > 0]
    gil_worst = sorted(gil_gaps, key=lambda g: -g[1])[:5]
    report["max_gil_wait_ms"] = round(max((g[1] for g in gil_gaps), default=0.0), 1)
    report["worst_gil_waits"] = [{"at_s": round(t, 3), "ms": round(ms, 1)} for t, ms in gil_worst]
    report["events"] = [(round(t, 3), e) for t, e in events[:20]]
    report["meets_targets"] = bool(startup <= TARGET_STARTUP_S and report["max_stall_ms"] <= TARGET_STALL_MS)
    return report


def _spin(app, done, timeout: float) -> None:
    end = time.perf_counter() + timeout
    while not done() and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def _encoder():
    import torch

    from models.encoder import EncoderConfig, SpeakerEncoder, SpeakerEncoderNet

    torch.manual_seed(0)
    return SpeakerEncoder(SpeakerEncoderNet(EncoderConfig.rtvc()))


def _synthesizer():
    import functools

    import torch

    from models.synthesizer import Synthesizer, Tacotron, TacotronConfig

    torch.manual_seed(0)
    synth = Synthesizer(Tacotron(TacotronConfig.rtvc()))
    # Random weights would stop at a random frame: run every sentence to its length guard instead.
    synth.model.generate = functools.partial(synth.model.generate, use_stop_token=False)
    return synth


def _wavernn():
    import torch

    from models.vocoder import VocoderConfig, WaveRNN, WaveRNNVocoder

    torch.manual_seed(0)
    return WaveRNNVocoder(WaveRNN(VocoderConfig.rtvc()))
