"""GUI responsiveness and speed: start-up, the longest event-loop stall, and generation speed next to
the CLI's on the same model in the same run.

* start-up: `sv2tts toolbox` started as a child process (and toolbox.gui.launch directly); the time
  from the process's start (imports included) to the first window, and to the main window.
* generation: the real toolbox window offscreen with published-size models (random weights),
  a fake audio device playing in real time and a 5 ms probe timer on the GUI thread (a stall is a
  probe tick's delay beyond its interval). `--mode vocode` (default) vocodes a 5 s bench mel
  through the GUI ("Vocode only"), then the same vocoder instance vocodes the same mel as
  `sv2tts bench vocoder` does (toolbox.bench.vocoder.time_stream) in this process: `rtf_ratio` is
  GUI / CLI. `--mode both` synthesizes `--text` with the published-size Tacotron (run to its
  length guard) first.
Targets: first window <= 1.5 s, longest stall <= 50 ms, GUI RTF within 1.2x the CLI's.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np

TARGET_STARTUP_S = 1.5
TARGET_STALL_MS = 50.0
TARGET_RTF_RATIO = 1.2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text", default="This is a benchmark of the toolbox. It measures how long the "
                        "interface freezes while a voice is generated.")
    parser.add_argument("--vocoder", choices=["wavernn", "griffin-lim"], default="wavernn")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    parser.add_argument("--mode", choices=["vocode", "both"], default="vocode")
    parser.add_argument("--seconds", type=float, default=5.0, help="audio of the bench mel (--mode vocode)")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up measurement")


def measure_startup(timeout: float = 180.0) -> dict:
    """Start the toolbox in child processes; seconds from process start to the first window and to the
    main window (from the app's log lines, which use the process's start time from /proc)."""
    import re
    import subprocess
    import sys
    import tempfile

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                   XDG_CONFIG_HOME=f"{tmp}/config", XDG_STATE_HOME=f"{tmp}/state", XDG_DATA_HOME=f"{tmp}/data")
        commands = {
            "sv2tts_toolbox": [sys.executable, "-m", "toolbox", "--exit-after", "0.2"],
            "gui_launch": [sys.executable, "-c", "import logging; logging.basicConfig(level=logging.INFO); "
                           "from toolbox.gui import launch; launch(exit_after=0.2)"],
        }
        for name, cmd in commands.items():
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
            shown = re.search(r"window shown ([\d.]+) s after the process started", proc.stderr)
            ready = re.search(r"main window ready ([\d.]+) s after the process started", proc.stderr)
            out[name] = {"window_shown_s": float(shown.group(1)) if shown else None,
                         "main_window_s": float(ready.group(1)) if ready else None,
                         "exit_code": proc.returncode}
    return out


def run(args: argparse.Namespace) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    startup_report = None if args.no_startup else measure_startup()
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
    from toolbox.bench.vocoder import bench_mel, time_stream

    mel = bench_mel(args.seconds, 0)
    vocoder = None
    if args.vocoder == "wavernn":
        vocoder = _wavernn()
        vocoder.vocode(mel[:, :6], seed=0)  # as `sv2tts bench vocoder`: warm-up, then calibrate the plan
        vocoder.vocode(mel[:, :161], seed=0)
        vocoder.step_time = vocoder.last_step_time
        factories["vocoder"] = (vocoder_name, lambda: vocoder)
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
    w.mel_ready.connect(lambda *_: events.append((time.perf_counter() - started, "mel")))
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
    if args.mode == "vocode":
        window.mels = [mel]
        window._update_actions()
        window.generate_panel.vocode_button.click()
    else:
        window.generate_panel.both_button.click()
    _spin(app, lambda: "result" in outcome, args.timeout)
    generation_s = time.perf_counter() - started
    probe.stop()
    stop_gil.set()
    gil_thread.join()
    clip = window.outputs.clips[0] if window.outputs.clips else None
    audio_s = len(clip.wav) / 16000 if clip is not None else 0.0
    window.close()
    cli = None
    if vocoder is not None and args.mode == "vocode":
        cli = time_stream(vocoder, mel, 0)  # the same instance and mel, as `sv2tts bench vocoder`
    stalls = np.maximum(np.asarray(gaps[1:] or [0.0]) - 5.0, 0.0)
    report = {
        "vocoder": vocoder_name,
        "outcome": outcome.get("result", "timeout"),
        "mode": args.mode,
        "startup": startup_report,
        "window_in_process_s": round(startup, 3),
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
    if cli is not None:
        report["cli_real_time_factor"] = cli["rtf"]
        report["rtf_ratio"] = round(report["real_time_factor"] / cli["rtf"], 3) if report["real_time_factor"] else None
    report["torch_threads"] = _torch_threads()
    try:
        report["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    shown_s = (startup_report or {}).get("sv2tts_toolbox", {}).get("window_shown_s")
    report["targets"]["rtf_ratio"] = TARGET_RTF_RATIO
    report["meets_targets"] = bool((shown_s is None or shown_s <= TARGET_STARTUP_S)
                                   and report["max_stall_ms"] <= TARGET_STALL_MS
                                   and (report.get("rtf_ratio") or 0) <= TARGET_RTF_RATIO)
    return report


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


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
