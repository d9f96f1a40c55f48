"""The real toolbox window, driven offscreen with a fake audio backend and stand-in models.

Every wait has a timeout; every window is shut down (worker thread stopped) at teardown.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from models.audio import SAMPLE_RATE
from toolbox.audio_io import FakeAudioBackend
from toolbox.gui.session import KnownSpeakers
from toolbox.gui.testing import FakeEngine, make_window
from toolbox.gui.testing import harmonic_voice as voice

T = 15_000  # ms, for every wait (a timeout only: a 2-core machine shared with other jobs)


@pytest.fixture
def make(qtbot, tmp_path):
    made = []

    def _make(**kwargs):
        kwargs.setdefault("tmp_dir", tmp_path)
        window, executor = make_window(**kwargs)
        qtbot.addWidget(window)
        window.show()  # offscreen; plots render only when visible
        made.append((window, executor))
        return window

    yield _make
    for window, executor in made:
        window.shutdown(worker_wait_ms=30_000)  # the app waits 300 ms; a test waits for the worker
        window.models.thread.wait(30_000)  # also when the test itself already closed the window (300 ms)
        executor.shutdown(wait=True)
        assert not window.models.thread.isRunning()


@pytest.fixture
def window(make):
    return make()


def add_voice(qtbot, window, f0=120.0, name="voice"):
    u = window.add_utterance(voice(f0), name, name)
    qtbot.waitUntil(lambda: u.embedding is not None, timeout=T)
    return u


def map_count(window) -> int:
    return sum(len(v) for v in window.map.points.values())


# -- voice in -------------------------------------------------------------------------------------


def test_window_lists_fake_devices_and_has_no_banner(window):
    assert window.windowTitle() == "SV2TTS toolbox"
    assert window.recorder.device_box.currentText() == "Fake microphone"
    assert window.generate_panel.output_box.currentText() == "Fake speakers"
    assert window.recorder.record_button.isEnabled()
    assert window.banner.isHidden()
    assert not window.generate_panel.both_button.isEnabled()  # no voice yet


def test_record_through_fake_input_embedding_appears_on_map(qtbot, make):
    backend = FakeAudioBackend(voice(140.0, seconds=3.0), speed=20.0)
    window = make(backend=backend)
    qtbot.mouseClick(window.recorder.record_button, Qt.MouseButton.LeftButton)
    assert window.recorder.recording
    qtbot.waitUntil(lambda: window.recorder.meter.value() > 50, timeout=T)  # live level meter
    qtbot.waitUntil(lambda: window.recorder._samples >= 2 * SAMPLE_RATE, timeout=T)
    with qtbot.waitSignal(window.utterance_embedded, timeout=T):
        qtbot.mouseClick(window.recorder.record_button, Qt.MouseButton.LeftButton)
    assert not window.recorder.recording
    assert backend.input_streams[0]._closer is None  # the stream was closed
    qtbot.waitUntil(lambda: map_count(window) == 1, timeout=T)
    u = window.voice
    assert u is not None and u.speaker == "you" and len(u.wav) >= 2 * SAMPLE_RATE
    np.testing.assert_allclose(np.linalg.norm(u.embedding), 1.0, rtol=1e-4)
    qtbot.waitUntil(lambda: window.spectrograms.reference.idle, timeout=T)
    assert window.spectrograms.reference.embed_img.get_visible()
    assert window.generate_panel.both_button.isEnabled()


def test_load_file_shows_reference_mel_and_embeds(qtbot, window, tmp_path):
    path = tmp_path / "speaker_a" / "hello.flac"
    path.parent.mkdir()
    sf.write(path, voice(200.0, 2.0 * 22050 / SAMPLE_RATE), 22050)  # 2 s at 22.05 kHz: resampled
    window.load_file(path)
    qtbot.waitUntil(lambda: window.voice is not None and window.voice.embedding is not None, timeout=T)
    assert window.voice.name == "hello.flac" and window.voice.speaker == "speaker_a"
    assert abs(len(window.voice.wav) - 2 * SAMPLE_RATE) < 10
    qtbot.waitUntil(lambda: window.spectrograms.reference.idle, timeout=T)
    mel = window.spectrograms.reference.mel_img.get_array()
    assert mel.shape == (80, 1 + len(window.voice.wav) // 200)
    assert window.spectrograms.reference.mel_img.origin == "lower"
    x0, x1, _, _ = window.spectrograms.reference.mel_img.get_extent()
    assert x1 == pytest.approx(mel.shape[1] * 0.0125)  # time axis in seconds
    qtbot.waitUntil(lambda: map_count(window) == 1, timeout=T)


def test_bad_file_reports_error_and_window_keeps_working(qtbot, window, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio at all")
    window.load_file(bad)
    qtbot.waitUntil(lambda: any("broken.wav" in e for e in window.status.errors), timeout=T)
    add_voice(qtbot, window)  # still works


def test_drop_audio_file_on_window_loads_it(qtbot, window, tmp_path):
    path = tmp_path / "dropped.wav"
    sf.write(path, voice(180.0), SAMPLE_RATE)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.voice is not None and window.voice.embedding is not None, timeout=T)
    assert window.voice.name == "dropped.wav"


def test_dataset_browser_random_and_load_librispeech(qtbot, make, librispeech):
    window = make(datasets_root=librispeech, seed=1)
    b = window.browser
    assert b.dataset_box.count() >= 1 and b.speaker_box.count() >= 1 and b.utterance_box.count() >= 1
    qtbot.mouseClick(b.random_buttons[1], Qt.MouseButton.LeftButton)
    speaker = b.speaker_box.currentText()
    first = b.utterance_box.currentIndex()
    qtbot.mouseClick(b.load_button, Qt.MouseButton.LeftButton)
    assert b.utterance_box.currentIndex() == (first + 1) % b.utterance_box.count()  # auto select next
    qtbot.waitUntil(lambda: window.voice is not None and window.voice.embedding is not None, timeout=10_000)
    assert window.voice.speaker.endswith(f"_{speaker}")
    assert window.voice.name.endswith(".flac")


def test_play_utterance_delivers_it_to_the_output(qtbot, make):
    backend = FakeAudioBackend(speed=40.0)
    window = make(backend=backend)
    u = add_voice(qtbot, window, name="to-play")
    with qtbot.waitSignal(window.player.stopped, timeout=T):
        qtbot.mouseClick(window.play_button, Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(backend.delivered_audio(), u.wav)


# -- generation -------------------------------------------------------------------------------------


def test_synthesize_and_play_streams_audio_in_order(qtbot, make):
    backend = FakeAudioBackend(speed=40.0)
    window = make(backend=backend)
    add_voice(qtbot, window)
    window.generate_panel.text.setPlainText("Hello there. This is a test.\nSecond line.")
    with qtbot.waitSignal(window.generation_finished, timeout=T) as blocker:
        qtbot.mouseClick(window.generate_panel.both_button, Qt.MouseButton.LeftButton)
        assert window.generate_panel.stop_button.isEnabled()
    assert blocker.args[1] == "done"
    clip = window.outputs.clips[0]
    assert clip.complete and len(clip.mels) == 3
    qtbot.waitUntil(lambda: window.spectrograms.generated.idle, timeout=T)
    gen = window.spectrograms.generated.mel_img.get_array()
    assert gen.shape[1] == sum(m.shape[1] for m in clip.mels) + 2 * 12  # drawn, with gaps
    qtbot.waitUntil(lambda: not window.player.playing, timeout=T)
    delivered = backend.delivered_audio()
    np.testing.assert_array_equal(delivered, clip.wav)  # everything, in order
    assert window.generate_panel.progress.value() == 1000
    assert window.generate_panel.progress.text().startswith("sentence 3 of 3")  # per-sentence progress
    assert "x real time" in window.generate_panel.progress.text()
    # the generated utterance is embedded and shown as an "X" on the map
    qtbot.waitUntil(lambda: len(window.map.points["generated"]) == 1, timeout=T)


def test_synthesize_only_then_vocode_only(qtbot, window):
    add_voice(qtbot, window)
    assert not window.generate_panel.vocode_button.isEnabled()
    with qtbot.waitSignal(window.generation_finished, timeout=T):
        qtbot.mouseClick(window.generate_panel.synth_button, Qt.MouseButton.LeftButton)
    assert window.mels and not window.outputs.clips
    assert window.generate_panel.vocode_button.isEnabled()
    window.generate_panel.model_boxes["vocoder"].setCurrentText("Griffin-Lim")
    with qtbot.waitSignal(window.generation_finished, timeout=T):
        qtbot.mouseClick(window.generate_panel.vocode_button, Qt.MouseButton.LeftButton)
    assert window.models.worker.engine.selected["vocoder"] == "Griffin-Lim"
    clip = window.outputs.clips[0]
    assert len(clip.wav) == sum((m.shape[1] - 1) * 200 for m in window.mels) + 2400 * (len(window.mels) - 1)


def test_stop_cancels_mid_generation(qtbot, make):
    window = make(engine=FakeEngine(delay=0.05))
    add_voice(qtbot, window)
    window.generate_panel.text.setPlainText(" ".join(["word"] * 60) + ".")
    qtbot.mouseClick(window.generate_panel.both_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.clip is not None and len(window.clip.chunks) >= 2, timeout=T)
    with qtbot.waitSignal(window.generation_finished, timeout=T) as blocker:
        qtbot.mouseClick(window.generate_panel.stop_button, Qt.MouseButton.LeftButton)
    assert blocker.args[1] == "cancelled"
    total = (10 + 5 * 60 - 1) * 200
    clip = window.outputs.clips[0]
    assert 0 < len(clip.wav) < total and clip.name.endswith("(stopped)")
    assert window.generate_panel.both_button.isEnabled()  # ready again
    with qtbot.waitSignal(window.generation_finished, timeout=T) as blocker:  # and works again
        window.generate_panel.text.setPlainText("Short.")
        qtbot.mouseClick(window.generate_panel.both_button, Qt.MouseButton.LeftButton)
    assert blocker.args[1] == "done"


def test_worker_exception_shown_without_killing_the_app(qtbot, make):
    engine = FakeEngine(fail={"synthesize": RuntimeError("synthesizer exploded")})
    window = make(engine=engine)
    add_voice(qtbot, window)
    with qtbot.waitSignal(window.generation_finished, timeout=T) as blocker:
        qtbot.mouseClick(window.generate_panel.both_button, Qt.MouseButton.LeftButton)
    assert blocker.args[1] == "failed"
    assert any("synthesizer exploded" in e for e in window.status.errors)
    assert window.models.thread.isRunning()
    engine.fail.clear()
    with qtbot.waitSignal(window.generation_finished, timeout=T) as blocker:
        qtbot.mouseClick(window.generate_panel.both_button, Qt.MouseButton.LeftButton)
    assert blocker.args[1] == "done"


def test_model_warnings_reach_the_status_area(qtbot, window):
    import logging

    logging.getLogger("models.pipeline").warning("skipping '🙂': nothing to pronounce")
    qtbot.waitUntil(lambda: "nothing to pronounce" in window.status.toPlainText(), timeout=T)
    assert not window.status.errors


def test_close_mid_generation_shuts_down_cleanly(qtbot, make):
    window = make(engine=FakeEngine(delay=0.2))
    add_voice(qtbot, window)
    window.generate_panel.text.setPlainText(" ".join(["word"] * 100) + ".")
    qtbot.mouseClick(window.generate_panel.both_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.clip is not None and len(window.clip.chunks) > 0, timeout=T)
    window.close()
    assert not window.models.thread.isRunning()
    assert not window.player.playing


# -- outputs ----------------------------------------------------------------------------------------


def generate_clip(qtbot, window):
    add_voice(qtbot, window)
    window.generate_panel.text.setPlainText("One sentence.")
    with qtbot.waitSignal(window.generation_finished, timeout=T):
        qtbot.mouseClick(window.generate_panel.both_button, Qt.MouseButton.LeftButton)
    return window.outputs.clips[0]


def test_export_wav_and_flac_never_overwrites_silently(qtbot, window, tmp_path):
    clip = generate_clip(qtbot, window)
    out = window.outputs
    asked = []
    out.confirm = lambda q: asked.append(q) or False  # the user says "no"
    out.ask_save_path = lambda suggested: tmp_path / "take"  # no suffix: .wav is added
    qtbot.mouseClick(out.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (tmp_path / "take.wav").exists(), timeout=T)
    wav, sr = sf.read(tmp_path / "take.wav", dtype="float32")
    assert sr == SAMPLE_RATE
    np.testing.assert_allclose(wav, clip.wav, atol=1 / 32767)  # 16-bit PCM by default
    mtime = (tmp_path / "take.wav").stat().st_mtime_ns
    qtbot.mouseClick(out.export_button, Qt.MouseButton.LeftButton)  # exists -> asked -> refused
    assert asked and "take.wav" in asked[0]
    assert (tmp_path / "take.wav").stat().st_mtime_ns == mtime
    out.ask_save_path = lambda suggested: tmp_path / "take.flac"
    qtbot.mouseClick(out.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (tmp_path / "take.flac").exists(), timeout=T)
    assert sf.info(tmp_path / "take.flac").format == "FLAC"
    out.ask_save_path = lambda suggested: tmp_path / "take.mp3"
    qtbot.mouseClick(out.export_button, Qt.MouseButton.LeftButton)
    assert any(".wav or .flac" in e for e in window.status.errors)


def test_replay_generated_clip(qtbot, make):
    backend = FakeAudioBackend(speed=40.0)
    window = make(backend=backend)
    clip = generate_clip(qtbot, window)
    qtbot.waitUntil(lambda: not window.player.playing, timeout=T)
    with qtbot.waitSignal(window.player.stopped, timeout=T):
        qtbot.mouseClick(window.outputs.replay_button, Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(backend.delivered_audio(-1), clip.wav)


def test_save_and_reload_voice_profile(qtbot, make, tmp_path):
    window = make()
    u = add_voice(qtbot, window, f0=230.0, name="alice")
    window.outputs.ask_name = lambda: "Alice's voice"
    qtbot.mouseClick(window.outputs.save_profile_button, Qt.MouseButton.LeftButton)
    assert window.outputs.profile_list.count() == 1
    name = window.outputs.profile_list.item(0).text()
    window.shutdown()
    # a new session, no audio: the profile alone is enough to synthesize
    window2 = make()
    assert window2.outputs.profile_list.count() == 1
    window2.outputs.profile_list.setCurrentRow(0)
    qtbot.mouseClick(window2.outputs.use_profile_button, Qt.MouseButton.LeftButton)
    assert window2.voice.kind == "profile" and window2.voice.name == name
    np.testing.assert_array_equal(window2.voice.embedding, u.embedding)
    assert window2.generate_panel.both_button.isEnabled()
    with qtbot.waitSignal(window2.generation_finished, timeout=T) as blocker:
        qtbot.mouseClick(window2.generate_panel.synth_button, Qt.MouseButton.LeftButton)
    assert blocker.args[1] == "done"


# -- voice map --------------------------------------------------------------------------------------


def fake_known(n: int = 30) -> KnownSpeakers:
    rng = np.random.default_rng(3)
    emb = np.abs(rng.standard_normal((n, 256))).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return KnownSpeakers(emb, np.array([str(100 + i) for i in range(n)]),
                         np.array(["F" if i % 2 else "M" for i in range(n)]))


def test_map_with_more_than_14_speakers(qtbot, window):
    for i in range(18):
        window.add_utterance(voice(90.0 + 12 * i, seconds=0.8, seed=i), f"utt{i}", f"speaker{i}")
    qtbot.waitUntil(lambda: map_count(window) == 18, timeout=10_000)
    qtbot.waitUntil(lambda: window.map.idle, timeout=T)
    colours = {tuple(c) for c in window.map.session_sc["real"].get_facecolors()}
    assert len(colours) == 18  # one distinct colour per speaker, beyond the reference's 14
    labels = [t.get_text() for t in window.map._legend.get_texts()]
    assert "+10 more speakers" in labels
    assert window.map.renders >= 1


def test_click_known_speaker_on_map_uses_that_voice(qtbot, make):
    known = fake_known()
    window = make(known=known)
    add_voice(qtbot, window)
    qtbot.waitUntil(lambda: map_count(window) == 1, timeout=T)
    qtbot.waitUntil(lambda: window.map.idle and window.map.snapshot is not None, timeout=T)
    pos = window.map.data_to_widget(*window.map.point_position("known", 7))
    assert window.map.hit(pos)[0] == "known"
    qtbot.mouseMove(window.map, pos)
    with qtbot.waitSignal(window.map.picked, timeout=T) as blocker:
        qtbot.mouseClick(window.map, Qt.MouseButton.LeftButton, pos=pos)
    kind, key = blocker.args
    assert kind == "known"
    assert window.voice.kind == "known"
    np.testing.assert_array_equal(window.voice.embedding, known.embeddings[key])
    assert window.generate_panel.both_button.isEnabled()
    # the chosen point is ringed on the map, and the reference panel says there is no recording
    assert window.map.current_xy() == window.map.point_position("known", key)
    qtbot.waitUntil(lambda: window.map.idle and window.spectrograms.reference.idle, timeout=T)
    np.testing.assert_array_equal(window.map.current_sc.get_offsets(), [window.map.point_position("known", key)])
    ref = window.spectrograms.reference
    assert "embedding only" in ref.note_text and not ref.mel_img.get_visible()  # (drawn cut to the width)
    assert ref.mel_ax.get_xlim() == (0.0, 1.0)  # no stale time axis
    assert window.voice.name in ref.title_text  # the full title (drawn cut to the width)
    labels = window.map.legend_labels
    assert "recorded or loaded" in labels and "current voice" in labels
    assert "LibriSpeech reader (F)" in labels and "LibriSpeech reader (M)" in labels
    legend_texts = [t.get_text() for t in window.map._legend.get_texts()]
    assert legend_texts == labels and all(t.get_fontsize() >= 8 for t in window.map._legend.get_texts())


def test_clear_empties_the_map(qtbot, window):
    add_voice(qtbot, window, 100.0, "a")
    add_voice(qtbot, window, 200.0, "b")
    qtbot.waitUntil(lambda: map_count(window) == 2, timeout=T)
    qtbot.mouseClick(window.clear_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: map_count(window) == 0, timeout=T)
    assert window.voice is None and not window.generate_panel.both_button.isEnabled()


# -- state ------------------------------------------------------------------------------------------


def test_no_audio_device_disables_audio_but_generation_and_export_work(qtbot, make, tmp_path):
    backend = FakeAudioBackend(available=False, reason="No audio backend: PortAudio is missing.")
    window = make(backend=backend)
    assert not window.banner.isHidden() and "PortAudio" in window.banner.text()
    assert "generation" in window.banner.text()
    assert not window.recorder.record_button.isEnabled()
    assert not window.generate_panel.output_box.isEnabled()
    clip = generate_clip(qtbot, window)
    assert clip.complete and len(clip.wav) > 0
    window.outputs.ask_save_path = lambda suggested: tmp_path / "x.wav"
    qtbot.mouseClick(window.outputs.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (tmp_path / "x.wav").exists(), timeout=T)


def test_model_choices_folders_and_geometry_persist(qtbot, make, tmp_path):
    (tmp_path / "corpora" / "LibriSpeech" / "dev-clean" / "84" / "121123").mkdir(parents=True)
    sf.write(tmp_path / "corpora" / "LibriSpeech" / "dev-clean" / "84" / "121123" / "84-121123-0000.flac",
             voice(150.0, 0.5), SAMPLE_RATE)
    window = make(datasets_root=tmp_path / "corpora")
    window.generate_panel.model_boxes["vocoder"].setCurrentText("Griffin-Lim")
    window.resize(700, 500)
    size = window.size()
    window.close()
    window2 = make()
    assert window2.generate_panel.model("vocoder") == "Griffin-Lim"
    assert window2.size() == size
    assert window2.browser.dataset_box.currentText() == "LibriSpeech/dev-clean"  # remembered root
    assert window2.browser.utterance_box.currentText() == "121123/84-121123-0000.flac"
    qtbot.waitUntil(lambda: window2.models.worker.engine.selected["vocoder"] == "Griffin-Lim", timeout=T)


def test_models_warm_up_lazily_with_status(qtbot, make):
    engine = FakeEngine()
    window = make(engine=engine, warm_up=True)
    qtbot.waitUntil(lambda: engine.loads == ["encoder", "synthesizer", "vocoder"], timeout=T)
    assert "Loaded" in window.status.toPlainText()


def test_enhance_option_tidies_the_saved_clip_not_the_stream(qtbot, make):
    from models.audio import enhance

    backend = FakeAudioBackend(speed=40.0)
    window = make(backend=backend)
    add_voice(qtbot, window)
    window.generate_panel.enhance_check.setChecked(True)
    window.generate_panel.text.setPlainText("Hello there. This is a test.")
    with qtbot.waitSignal(window.generation_finished, timeout=T) as blocker:
        qtbot.mouseClick(window.generate_panel.both_button, Qt.MouseButton.LeftButton)
    assert blocker.args[1] == "done"
    qtbot.waitUntil(lambda: not window.player.playing, timeout=T)
    streamed = backend.delivered_audio()
    clip = window.outputs.clips[0]
    np.testing.assert_array_equal(clip.wav, enhance(streamed))
    assert np.max(np.abs(clip.wav)) == pytest.approx(0.97, abs=1e-6)
