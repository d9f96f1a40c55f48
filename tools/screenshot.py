"""Take the README screenshot: the toolbox on the bundled models, one reference voice loaded, one
sentence synthesized. Run under a virtual screen without a sound card:

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python tools/screenshot.py REF.flac assets/screenshot.png
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from toolbox.audio_io import FakeAudioBackend
from toolbox.gui.engine import StoreEngine
from toolbox.gui.session import KnownSpeakers
from toolbox.gui.testing import make_window

TEXT = "Hello! This voice was cloned from five seconds of speech, on a laptop processor."


def wait(app: QApplication, condition, timeout_s: float) -> None:
    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: loop.quit() if condition() else None)
    timer.start(50)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    timer.stop()


def main(reference: Path, out: Path) -> int:
    logging.basicConfig(level=logging.INFO)
    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as tmp:
        window, executor = make_window(StoreEngine(), FakeAudioBackend(speed=50.0), tmp_dir=tmp,
                                       known=KnownSpeakers.load(), umap=True)
        window.resize(1500, 950)
        window.show()
        window.projector.warm_up()
        window.load_file(reference)
        wait(app, lambda: any(u.embedding is not None for u in window.utterances.values()), 120)
        wait(app, lambda: window.projector.method_used == "umap" and window.projector.ready, 240)
        window.generate_panel.text.setPlainText(TEXT)
        done: list[str] = []
        window.generation_finished.connect(lambda *args: done.append(str(args[1])))
        window.generate_panel.both_button.click()
        wait(app, lambda: bool(done), 300)
        wait(app, lambda: not window.player.playing and window.spectrograms.generated.idle, 60)
        wait(app, lambda: False, 2.0)  # let the plots settle
        window.grab().save(str(out))
        print(f"generation: {done}; wrote {out}")
        window.shutdown()
        executor.shutdown(wait=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2])))
