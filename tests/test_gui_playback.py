"""Playback and generation controls of the real window (offscreen, fake audio, stand-in models): the
waveform with its moving position line, the volume, the dark palette in every plot, speed and pitch."""

from __future__ import annotations

import time

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication
from test_gui import T, add_voice, make, window  # noqa: F401, F811  (fixtures)

from models.audio import SAMPLE_RATE
from toolbox.audio_io import FakeAudioBackend
from toolbox.gui.testing import FakeEngine

# -- speed and pitch ---------------------------------------------------------------------------------


def test_speed_and_pitch_reach_the_synthesizer_and_are_remembered(qtbot, make, tmp_path):  # noqa: F811
    engine = FakeEngine()
    win = make(engine=engine)
    gp = win.generate_panel
    qtbot.waitUntil(lambda: gp.speed_box.isEnabled(), timeout=T)
    assert "How fast" in gp.speed_box.toolTip() and "semitones" in gp.pitch_box.toolTip()
    add_voice(qtbot, win)
    gp.text.setPlainText("Hello there.")
    gp.speed_box.setValue(2.0)
    gp.pitch_box.setValue(-3.0)
    assert gp.match_box.value() == 0 and "recording's own sound" in gp.match_box.toolTip()  # off by default
    gp.match_box.setValue(60)
    with qtbot.waitSignal(win.generation_finished, timeout=T) as blocker:
        qtbot.mouseClick(gp.synth_button, Qt.MouseButton.LeftButton)
        assert not gp.speed_box.isEnabled() and not gp.match_box.isEnabled()  # fixed while a job runs
    assert blocker.args[1] == "done"
    assert engine.controls_seen == [(2.0, -3.0)] and engine.voice_match_seen == [0.6]
    assert win.mels[0].shape[1] == (10 + 5 * 2) // 2  # twice as fast: half the frames
    assert gp.speed_box.isEnabled()
    win.close()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    assert float(settings.value("generate/speed")) == 2.0
    again = make()
    assert again.generate_panel.speed_box.value() == 2.0 and again.generate_panel.pitch_box.value() == -3.0
    assert again.generate_panel.match_box.value() == 60


def test_speed_and_pitch_disabled_for_a_synthesizer_without_them(qtbot, make):  # noqa: F811
    engine = FakeEngine(controls=False)
    win = make(engine=engine)
    gp = win.generate_panel
    qtbot.waitUntil(lambda: not gp.speed_box.isEnabled(), timeout=T)
    assert not gp.pitch_box.isEnabled() and not gp.match_box.isEnabled()
    assert "cannot change its speed, pitch or voice match" in gp.match_box.toolTip()
    gp.speed_box.setValue(3.0)  # a remembered value is not sent to a synthesizer without controls
    add_voice(qtbot, win)
    gp.text.setPlainText("Hello there.")
    with qtbot.waitSignal(win.generation_finished, timeout=T) as blocker:
        win.start_generation("synthesize")
    assert blocker.args[1] == "done"
    assert engine.controls_seen == [(None, None)] and engine.voice_match_seen == [None]


# -- waveform and volume --------------------------------------------------------------------------


def watch_line(qtbot, win, until) -> list[tuple[float, int]]:
    """(position s, line x px) each time the position line moved, until `until()` is true."""
    seen: list[tuple[float, int]] = []
    deadline = time.monotonic() + T / 1000

    def moved() -> bool:
        view = win.playback.waveform
        if view.line_x is not None and (not seen or seen[-1][1] != view.line_x):
            seen.append((view.position, view.line_x))
        return until() or time.monotonic() > deadline

    qtbot.waitUntil(moved, timeout=T + 1000)
    return seen


def test_waveform_spans_the_clip_and_its_line_follows_playback(qtbot, make):  # noqa: F811
    backend = FakeAudioBackend(speed=1.0)  # real time: the line has time to move
    win = make(backend=backend)
    add_voice(qtbot, win)
    win.generate_panel.text.setPlainText("Hello there. This is a test.")
    done = []
    win.generation_finished.connect(lambda *a: done.append(a))
    win.start_generation("both")
    streamed = watch_line(qtbot, win, lambda: bool(done) and not win.player.playing)
    assert done[0][1] == "done"
    assert len(streamed) >= 3  # the line moved while the clip streamed
    clip = win.outputs.clips[0]
    view = win.playback.waveform
    qtbot.waitUntil(lambda: view.idle, timeout=T)
    seconds = len(clip.wav) / SAMPLE_RATE
    assert view.duration == pytest.approx(seconds)
    assert view.snapshot[2:4] == pytest.approx((0.0, seconds))  # drawn over the clip's length
    verts = view.fill.get_paths()[0].vertices
    assert verts[:, 0].max() == pytest.approx(seconds, rel=0.01) and np.abs(verts[:, 1]).max() == pytest.approx(1.0)
    assert view.line_x is None  # nothing plays

    before = view.renders
    with qtbot.waitSignal(win.player.stopped, timeout=T):
        qtbot.mouseClick(win.outputs.replay_button, Qt.MouseButton.LeftButton)
        replayed = watch_line(qtbot, win, lambda: not win.player.playing)
    positions = [p for p, _ in replayed]
    xs = [x for _, x in replayed]
    assert len(replayed) >= 5 and xs == sorted(xs) and positions == sorted(positions)
    assert 0.0 <= positions[0] and positions[-1] <= seconds + 0.05
    x0, x1 = view.snapshot[0] / view.devicePixelRatioF(), view.snapshot[1] / view.devicePixelRatioF()
    assert x0 - 1 <= xs[0] < xs[-1] <= x1 + 1
    assert view.renders - before <= 2  # the line moves without redrawing the waveform
    qtbot.waitUntil(lambda: view.line_x is None, timeout=T)


def test_the_voice_recording_is_shown_while_it_plays(qtbot, make):  # noqa: F811
    win = make(backend=FakeAudioBackend(speed=1.0))
    u = add_voice(qtbot, win, name="my voice")
    with qtbot.waitSignal(win.player.stopped, timeout=T):
        qtbot.mouseClick(win.play_button, Qt.MouseButton.LeftButton)
        seen = watch_line(qtbot, win, lambda: not win.player.playing)
    assert win.playback.waveform.duration == pytest.approx(len(u.wav) / SAMPLE_RATE)
    assert win.playback.waveform.title == "voice: my voice"
    assert len(seen) >= 5


def test_volume_scales_what_is_played_and_is_remembered(qtbot, make, tmp_path):  # noqa: F811
    backend = FakeAudioBackend(speed=40.0)
    win = make(backend=backend)
    bar = win.playback
    assert bar.volume.value() == 100 and "loud" in bar.volume.toolTip()
    u = add_voice(qtbot, win)
    bar.volume.setValue(50)
    assert win.player.volume == 0.5 and bar.volume_value.text() == "50 %"
    with qtbot.waitSignal(win.player.stopped, timeout=T):
        qtbot.mouseClick(win.play_button, Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(backend.delivered_audio(), u.wav * np.float32(0.5))
    win.close()
    assert int(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat).value("playback/volume")) == 50
    again = make(backend=backend)
    assert again.playback.volume.value() == 50 and again.player.volume == 0.5


# -- dark palette ---------------------------------------------------------------------------------


def lightness(colour) -> float:
    r, g, b = to_rgb(colour)
    return (max(r, g, b) + min(r, g, b)) / 2


def test_plots_follow_a_dark_palette_live(qtbot, window):  # noqa: F811
    app = QApplication.instance()
    canvases = [window.map, window.spectrograms.reference, window.spectrograms.generated, window.playback.waveform]
    light = app.palette()
    assert all(not c.theme.dark for c in canvases)
    dark = QPalette(light)
    for role, colour in ((QPalette.ColorRole.Window, "#2d2d2d"), (QPalette.ColorRole.WindowText, "#e8e8e8"),
                         (QPalette.ColorRole.Base, "#1e1e1e"), (QPalette.ColorRole.Text, "#e8e8e8")):
        dark.setColor(role, QColor(colour))
    app.setPalette(dark)
    try:
        for c in canvases:
            qtbot.waitUntil(lambda c=c: c.theme.dark and c.idle and c.renders > 0, timeout=T)
            assert lightness(c.figure.get_facecolor()) < 0.5, type(c).__name__
            for ax in c.figure.axes:
                assert lightness(ax.get_facecolor()) < 0.5
                for label in ax.get_xticklabels() + ax.get_yticklabels():
                    assert lightness(label.get_color()) > 0.5, (type(c).__name__, label.get_text())
                assert lightness(ax.title.get_color()) > 0.5 and lightness(ax._left_title.get_color()) > 0.5
        assert c.background.lightness() < 128  # the widget's own fill too
        legend = window.map.ax.get_legend()
        if legend is not None:
            assert all(lightness(t.get_color()) > 0.5 for t in legend.get_texts())
        window.status.error("a problem")  # messages stay readable too
        assert "#ff6b6b" in window.status.document().toHtml().lower()
    finally:
        app.setPalette(light)
    for c in canvases:  # and back, live
        qtbot.waitUntil(lambda c=c: not c.theme.dark and c.idle, timeout=T)
        assert lightness(c.figure.get_facecolor()) > 0.5
        assert all(lightness(t.get_color()) < 0.5 for ax in c.figure.axes for t in ax.get_xticklabels())
