"""The window on real screens: a real X11 window (xcb) on Xvfb at 1280x800, 1366x768, 1920x1080 and at
1.5x scaling, with a voice, the known speakers and a generated clip shown. Asserts that the window fits
the screen, no widget is cut (each inside its parent and at least its minimum size hint), and no
plot text leaves its canvas (matplotlib's tight bounding boxes); saves a screenshot of each.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = textwrap.dedent(r"""
    import json, sys, tempfile, time
    import numpy as np
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QWidget
    from toolbox.audio_io import FakeAudioBackend
    from toolbox.gui.plot_canvas import PlotCanvas
    from toolbox.gui.session import KnownSpeakers
    from toolbox.gui.testing import FakeEngine, harmonic_voice, make_window

    app = QApplication(sys.argv[:1])

    def wait(cond, timeout):
        end = time.monotonic() + timeout
        while not cond() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)
        return cond()

    tmp = tempfile.mkdtemp()
    window, executor = make_window(FakeEngine(), FakeAudioBackend(speed=50.0), tmp_dir=tmp, known=KnownSpeakers.load())
    window.show()
    u = window.add_utterance(harmonic_voice(140.0, 2.0), "reference recording", "you")
    assert wait(lambda: u.embedding is not None, 60)
    window.generate_panel.text.setPlainText("Hello there. This is the toolbox on a real screen.")
    done = []
    window.generation_finished.connect(lambda *a: done.append(a))
    window.start_generation("both")
    assert wait(lambda: bool(done), 60)
    canvases = window.findChildren(PlotCanvas)
    wait(lambda: False, 0.5)
    assert wait(lambda: all(c.idle and c.renders > 0 for c in canvases), 60)
    screen = window.screen()
    avail = screen.availableGeometry()
    frame = window.frameGeometry()
    problems = []
    if not avail.contains(window.geometry()):
        problems.append(f"window {window.geometry()} outside the screen's available area {avail}")
    for w in window.findChildren(QWidget):
        if not w.isVisible() or w.isWindow():
            continue
        parent = w.parentWidget()
        if parent is not None and not parent.rect().contains(w.geometry()):
            problems.append(f"{type(w).__name__} {w.objectName()} {w.geometry()} outside its parent {parent.rect()}")
        hint = w.minimumSizeHint()
        internal = isinstance(parent, (QAbstractSpinBox, QComboBox))  # Qt's own parts of a composite widget
        fixed = w.maximumHeight() < hint.height() or w.maximumWidth() < hint.width()  # sized on purpose
        if hint.isValid() and not internal and not fixed and (w.width() < hint.width() - 1
                                                              or w.height() < hint.height() - 1):
            text = getattr(w, "text", None)  # a label's text; a panel may hold a text box under that name
            problems.append(f"{type(w).__name__} '{text() if callable(text) else ''}' cut: {w.size()} < {hint}")
    for c in canvases:
        fig = c.figure
        renderer = c._agg.get_renderer()
        box = fig.bbox
        texts = list(fig.texts)
        for ax in fig.axes:  # tick labels are covered by the axes' tight box below (only drawn ticks count)
            texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
            if ax.get_legend() is not None:
                texts += ax.get_legend().get_texts()
        for t in texts:
            if not t.get_visible() or not t.get_text():
                continue
            ext = t.get_window_extent(renderer)
            if ext.x0 < box.x0 - 0.5 or ext.y0 < box.y0 - 0.5 or ext.x1 > box.x1 + 0.5 or ext.y1 > box.y1 + 0.5:
                problems.append(f"{type(c).__name__}: text {t.get_text()!r} at {ext.bounds} leaves the canvas "
                                f"{box.bounds}")
        for ax in fig.axes:
            ab = ax.get_tightbbox(renderer)
            if ab is not None and (ab.x0 < -0.5 or ab.y0 < -0.5 or ab.x1 > box.x1 + 0.5 or ab.y1 > box.y1 + 0.5):
                title = ax.get_title(loc="left")
                problems.append(f"{type(c).__name__}: axes {title!r} tight box {ab.bounds} > {box.bounds}")
    spec = window.spectrograms.generated
    window.grab().save(sys.argv[1])
    print(json.dumps({"problems": problems, "window": [window.width(), window.height()],
                      "screen": [avail.width(), avail.height()], "ratio": window.devicePixelRatioF(),
                      "spectrogram": [spec.width(), spec.height()], "map": [window.map.width(), window.map.height()]}))
    window.shutdown(30_000)
    executor.shutdown()
""")


@pytest.mark.parametrize("screen,scale", [("1280x800", "1"), ("1366x768", "1"), ("1920x1080", "1"),
                                          ("1920x1080", "1.5")])
def test_window_fits_real_screens_without_clipping(tmp_path, screen, scale):
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run not installed (Debian package xvfb)")
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(QT_QPA_PLATFORM="xcb", QT_SCALE_FACTOR=scale, PYTHONPATH=str(ROOT))
    shot = tmp_path / f"toolbox-{screen}-{scale}.png"
    proc = subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {screen}x24", sys.executable, "-c", CHECK, str(shot)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["problems"] == [], "\n".join(result["problems"])
    assert result["window"][0] <= result["screen"][0] and result["window"][1] <= result["screen"][1]
    assert result["spectrogram"][1] >= 130 and result["map"][0] >= 250
    assert shot.stat().st_size > 10_000
