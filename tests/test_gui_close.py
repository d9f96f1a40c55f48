"""Closing the real app (launch(): loading window, main window, model worker thread, UMAP process)
in the middle of a long generation: by the window, by SIGTERM and by Ctrl+C (SIGINT). The process
must exit cleanly (exit code 0, no "Fatal Python error" abort) with every child process it started
gone; the app's own closing (close request to process exit) must take under 1 s. The wall time seen
from outside, which includes the kernel reaping a large process on a loaded machine, is only bounded
loosely (5 s) so the test cannot fail because the machine is busy. "busy" closes while the worker is
inside a 5 s model call it cannot interrupt.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

DRIVER = textwrap.dedent(r"""
    import json, logging, os, sys, time
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from PySide6.QtCore import QTimer
    from toolbox.audio_io import FakeAudioBackend
    from toolbox.gui import launch
    from toolbox.gui.testing import FakeEngine, harmonic_voice

    mode = sys.argv[1]

    class Busy(FakeEngine):  # the first piece of audio, then one long call that ignores cancel
        def vocode(self, mel, *, seed, progress, cancel):
            it = super().vocode(mel, seed=seed, progress=progress, cancel=cancel)
            yield next(it)
            time.sleep(5.0)
            yield from it

    def children():
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == os.getpid():
                            out.append(int(d))
                except OSError:
                    pass
        return out

    def drive(window):
        u = window.add_utterance(harmonic_voice(120.0), "voice", "voice")
        sent = []

        def poll():
            if u.embedding is None or sent:
                return
            if not window.job:
                window.generate_panel.text.setPlainText(" ".join(["word"] * 2000) + ".")
                window.start_generation("both")
            elif window.clip is not None and window.clip.chunks and children():
                sent.append(1)
                print(json.dumps({"children": children(), "closing_at": time.time()}), flush=True)
                if mode in ("close", "busy"):
                    window.close()

        timer = QTimer(window)
        timer.timeout.connect(poll)
        timer.start(20)

    engine = Busy() if mode == "busy" else FakeEngine(delay=0.05)
    launch(engine=engine, backend=FakeAudioBackend(speed=1.0), on_window=drive)  # exits the process
""")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("how", ["close", "busy", "SIGTERM", "SIGINT"])
def test_closing_mid_generation_exits_within_a_second_with_no_child_left(tmp_path, how):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_DATA_HOME=str(tmp_path / "data"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    mode = "close" if how.startswith("SIG") else how
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, mode],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # printed once audio streams and the UMAP process runs
        assert line.startswith("{"), f"the driver ended early:\n{proc.stderr.read()[-3000:]}"
        first = json.loads(line)
        start = first["closing_at"]
        if how.startswith("SIG"):
            start = time.time()
            proc.send_signal(getattr(signal, how))
        proc.wait(timeout=30)
        took = time.time() - start
    finally:
        if proc.poll() is None:
            proc.kill()
    out, err = proc.communicate()
    assert proc.returncode == 0, f"exit code {proc.returncode}:\n{err[-3000:]}"
    assert "Fatal Python error" not in err and "Traceback" not in err, err[-3000:]
    assert "toolbox closed" in err  # launch() ran to its end
    closed = re.search(r"toolbox closed .* (\d+) ms after the close request", err)
    assert closed, err[-2000:]
    assert int(closed.group(1)) < 1000, f"{how}: closing took {closed.group(1)} ms\n{err[-1500:]}"
    assert took < 5.0, f"{how}: the process was gone {took:.2f} s after the close request\n{err[-1500:]}"
    if "still being reaped" not in err:  # a loaded machine may not reap it within the close budget
        assert "leaked" not in err  # the pool released its semaphores
    assert first["children"], "the UMAP projection process should have been running"
    deadline = time.time() + 1.0
    while any(alive(p) for p in first["children"]) and time.time() < deadline:
        time.sleep(0.05)
    assert not [p for p in first["children"] if alive(p)], "child processes left running"
    if how == "busy":
        assert "still busy; exiting without waiting" in err
