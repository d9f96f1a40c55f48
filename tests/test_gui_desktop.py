"""Desktop behaviour of the real window (offscreen, fake audio, stand-in models): Stop on a long text,
the generated panel following the selected clip, shortcuts, menus, Replay without a device, export
defaults, deleting clips."""

from __future__ import annotations

import time

import numpy as np
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_gui import T, add_voice, generate_clip, make, window  # noqa: F401, F811  (fixtures)

from toolbox.audio_io import FakeAudioBackend
from toolbox.gui.outputs import default_name
from toolbox.gui.testing import FakeEngine
from toolbox.gui.window_generation import join_mels

WORDS_2000 = " ".join(f"{' '.join(['word'] * 19)} end." for _ in range(100))  # 2,000 words, 100 sentences


def test_stop_on_a_2000_word_text_takes_effect_at_once(qtbot, make):  # noqa: F811
    win = make(engine=FakeEngine(delay=0.02))
    add_voice(qtbot, win)
    assert len(WORDS_2000.split()) == 2000
    win.generate_panel.text.setPlainText(WORDS_2000)
    sentences = []
    win.models.worker.sentence.connect(lambda job, i, n: sentences.append((i, n)))
    qtbot.mouseClick(win.generate_panel.both_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.clip is not None and len(win.clip.chunks) >= 3, timeout=T)
    assert sentences and sentences[0] == (0, 100)  # per-sentence progress
    assert win.generate_panel.progress.text().startswith("sentence ")
    job = win.job
    acks = []
    win.models.worker.finished.connect(lambda j, outcome: acks.append((j, outcome, time.perf_counter())))
    outcomes = []
    win.generation_finished.connect(lambda j, outcome: outcomes.append((outcome, time.perf_counter())))
    clicked = time.perf_counter()
    qtbot.mouseClick(win.generate_panel.stop_button, Qt.MouseButton.LeftButton)
    # Effective when the click returns: the job ended, playback stopped, the win ready again.
    assert outcomes and outcomes[0][0] == "cancelled" and outcomes[0][1] - clicked < 0.2
    assert "Stopping" in win.status.toPlainText()
    assert not win.player.playing
    assert win.generate_panel.both_button.isEnabled() and not win.generate_panel.stop_button.isEnabled()
    assert win.generate_panel.progress.text() == "stopped"
    clip = win.outputs.clips[0]
    assert clip.name.endswith("(stopped)") and clip.chunks  # what was made is kept
    kept = len(clip.wav)
    # The worker itself stops at its next check (one 20 ms step of the stand-in models).
    qtbot.waitUntil(lambda: any(j == job for j, _, _ in acks), timeout=T)
    ack = next(a for a in acks if a[0] == job)
    assert ack[1] == "cancelled" and ack[2] - clicked < 1.0
    assert len(sentences) < 100
    qtbot.wait(100)
    assert len(clip.wav) == kept  # nothing is added after Stop


def test_stop_before_any_audio_drops_the_empty_clip(qtbot, make):  # noqa: F811
    win = make(engine=FakeEngine(delay=0.5))
    add_voice(qtbot, win)
    win.generate_panel.text.setPlainText(WORDS_2000)
    qtbot.mouseClick(win.generate_panel.both_button, Qt.MouseButton.LeftButton)
    assert len(win.outputs.clips) == 1  # listed while generating
    with qtbot.waitSignal(win.generation_finished, timeout=1000) as blocker:
        QTest.keyClick(win, Qt.Key.Key_Escape)  # Esc stops
    assert blocker.args[1] == "cancelled"
    assert win.outputs.clips == [] and win.outputs.clip_list.count() == 0


def test_selected_clip_drives_the_generated_panel(qtbot, window):  # noqa: F811
    add_voice(qtbot, window, name="alice")
    clips = []
    for text in ("One short sentence.", "A second and rather longer sentence. With two parts."):
        window.generate_panel.text.setPlainText(text)
        with qtbot.waitSignal(window.generation_finished, timeout=T):
            qtbot.mouseClick(window.generate_panel.both_button, Qt.MouseButton.LeftButton)
        clips.append(window.outputs.clips[0])
        qtbot.waitUntil(lambda: window.utterances[clips[-1].utterance].embedding is not None, timeout=T)
    view = window.spectrograms.generated
    for row, clip in ((1, clips[0]), (0, clips[1])):
        window.outputs.clip_list.setCurrentRow(row)
        qtbot.waitUntil(lambda: view.idle, timeout=T)
        np.testing.assert_array_equal(view.mel_img.get_array(), join_mels(clip.mels))
        assert clip.name in view.title_text and "alice" in view.title_text
        emb = window.utterances[clip.utterance].embedding
        np.testing.assert_array_equal(view.embed_img.get_array(), emb.reshape(16, 16))
    assert clips[0].mels[0].shape != clips[1].mels[0].shape


def test_shortcuts_and_tab(qtbot, window, tmp_path):  # noqa: F811
    add_voice(qtbot, window)
    window.activateWindow()
    text = window.generate_panel.text
    text.setPlainText("Hello there.")
    text.setFocus()
    QTest.keyClick(text, Qt.Key.Key_Tab)
    assert text.toPlainText() == "Hello there." and not text.hasFocus()  # Tab leaves the text box
    assert {a: window.actions[a].shortcut().toString() for a in ("open", "export", "quit", "stop")} == {
        "open": "Ctrl+O", "export": "Ctrl+E", "quit": "Ctrl+Q", "stop": "Esc"}
    text.setFocus()
    with qtbot.waitSignal(window.generation_finished, timeout=T) as blocker:
        QTest.keyClick(text, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args[1] == "done" and text.toPlainText() == "Hello there."  # no newline typed
    asked = []
    window.outputs.ask_save_path = lambda suggested: asked.append(suggested) or tmp_path / "a.wav"
    QTest.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert asked
    qtbot.waitUntil(lambda: (tmp_path / "a.wav").exists(), timeout=T)
    opened = []
    window._browse_file = lambda: opened.append(1)  # the action calls the dialog through this
    window.actions["open"].triggered.disconnect()
    window.actions["open"].triggered.connect(lambda: window._browse_file())
    QTest.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert opened
    QTest.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=T)
    assert not window.models.thread.isRunning()


def test_replay_disabled_without_output_device(qtbot, make, tmp_path):  # noqa: F811
    win = make(backend=FakeAudioBackend(available=False, reason="No audio backend: PortAudio is missing."))
    clip = generate_clip(qtbot, win)
    assert win.outputs.current_clip() is clip and clip.chunks
    assert not win.outputs.replay_button.isEnabled()
    assert "exported" in win.outputs.replay_button.toolTip()
    assert win.outputs.export_button.isEnabled()


def test_export_defaults_to_16_bit_wav_named_after_voice_and_text(qtbot, window, tmp_path):  # noqa: F811
    add_voice(qtbot, window, name="bob")
    window.generate_panel.text.setPlainText("Good morning: how are you today, my friend?")
    with qtbot.waitSignal(window.generation_finished, timeout=T):
        qtbot.mouseClick(window.generate_panel.both_button, Qt.MouseButton.LeftButton)
    clip = window.outputs.clips[0]
    assert default_name(clip) == "bob - Good morning how are you today,.wav"
    suggested = []
    window.outputs.last_export_dir = tmp_path
    window.outputs.ask_save_path = lambda s: suggested.append(s) or tmp_path / "take.wav"
    qtbot.mouseClick(window.outputs.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (tmp_path / "take.wav").exists(), timeout=T)
    assert suggested == [str(tmp_path / default_name(clip))]
    info = sf.info(tmp_path / "take.wav")
    assert (info.format, info.subtype, info.samplerate) == ("WAV", "PCM_16", 16000)
    window.outputs.ask_save_path = lambda s: (tmp_path / "float.wav", "FLOAT")
    qtbot.mouseClick(window.outputs.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (tmp_path / "float.wav").exists(), timeout=T)
    assert sf.info(tmp_path / "float.wav").subtype == "FLOAT"
    np.testing.assert_allclose(sf.read(tmp_path / "take.wav", dtype="float32")[0], clip.wav, atol=1 / 32767)


def test_delete_and_clear_clips(qtbot, window):  # noqa: F811
    generate_clip(qtbot, window)
    for _ in range(2):
        with qtbot.waitSignal(window.generation_finished, timeout=T):
            qtbot.mouseClick(window.generate_panel.both_button, Qt.MouseButton.LeftButton)
    out = window.outputs
    assert len(out.clips) == 3
    out.clip_list.setCurrentRow(1)
    second = out.clips[1]
    qtbot.mouseClick(out.delete_clip_button, Qt.MouseButton.LeftButton)
    assert len(out.clips) == 2 and second not in out.clips and out.clip_list.count() == 2
    qtbot.mouseClick(out.clear_clips_button, Qt.MouseButton.LeftButton)
    assert out.clips == [] and out.clip_list.count() == 0
    assert not out.replay_button.isEnabled() and not out.clear_clips_button.isEnabled()
