"""Playback and generation controls of the real window (offscreen, fake audio, stand-in models): the
waveform with its moving position line, the volume, the dark palette in every plot, speed and pitch."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from test_gui import T, add_voice, make, window  # noqa: F401, F811  (fixtures)

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
    with qtbot.waitSignal(win.generation_finished, timeout=T) as blocker:
        qtbot.mouseClick(gp.synth_button, Qt.MouseButton.LeftButton)
        assert not gp.speed_box.isEnabled()  # fixed while a job runs
    assert blocker.args[1] == "done"
    assert engine.controls_seen == [(2.0, -3.0)]
    assert win.mels[0].shape[1] == (10 + 5 * 2) // 2  # twice as fast: half the frames
    assert gp.speed_box.isEnabled()
    win.close()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    assert float(settings.value("generate/speed")) == 2.0
    again = make()
    assert again.generate_panel.speed_box.value() == 2.0 and again.generate_panel.pitch_box.value() == -3.0


def test_speed_and_pitch_disabled_for_a_synthesizer_without_them(qtbot, make):  # noqa: F811
    engine = FakeEngine(controls=False)
    win = make(engine=engine)
    gp = win.generate_panel
    qtbot.waitUntil(lambda: not gp.speed_box.isEnabled(), timeout=T)
    assert not gp.pitch_box.isEnabled()
    assert "cannot change its speed or pitch" in gp.pitch_box.toolTip()
    gp.speed_box.setValue(3.0)  # a remembered value is not sent to a synthesizer without controls
    add_voice(qtbot, win)
    gp.text.setPlainText("Hello there.")
    with qtbot.waitSignal(win.generation_finished, timeout=T) as blocker:
        win.start_generation("synthesize")
    assert blocker.args[1] == "done"
    assert engine.controls_seen == [(None, None)]
