"""PySide6-Essentials 6.12.0 on Python < 3.12 drops a reference to True (or None) on every signal
emission; the process aborts ("Fatal Python error: bool_dealloc") once the count reaches zero, which
a long toolbox session reaches. pyproject.toml keeps that release off Python < 3.12; this test
proves the installed PySide6 is sound.

The emissions run in a child process (an affected PySide6 aborts the interpreter) that checks the
counts after every batch of 10 emissions and reports the first fall, long before it could abort.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(r"""
    import json, os, sys, time
    from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

    N, BATCH, NOISE = 3000, 10, 100
    app = QCoreApplication([])

    def counts():
        return {"True": sys.getrefcount(True), "False": sys.getrefcount(False), "None": sys.getrefcount(None)}

    class Emitter(QObject):
        any = Signal(object)
        typed = Signal(int, float, bool)
        flag = Signal(bool)

    class Receiver(QObject):
        def __init__(self):
            super().__init__()
            self.n = 0

        @Slot(object)
        def on_any(self, value):
            self.n += 1

        @Slot(int, float, bool)
        def on_typed(self, a, b, c):
            self.n += 1

        @Slot(bool)
        def on_flag(self, value):
            self.n += 1

    def emit_batch(e, i):
        for k in range(BATCH):
            e.any.emit((True, False, None)[k % 3])
            e.typed.emit(i + k, 0.5, bool(k % 2))
            e.flag.emit(k % 2 == 0)

    def fell(before, after):  # a defective release loses one per emission; allow a little noise
        return {k: before[k] - after[k] for k in before if after[k] < before[k] - NOISE}

    def report(code):  # os._exit: an affected interpreter would abort while finalizing
        print(json.dumps(result), flush=True)
        os._exit(code)

    result = {"pyside": __import__("PySide6").__version__, "python": sys.version.split()[0]}

    # Same thread (direct connections).
    e, r = Emitter(), Receiver()
    e.any.connect(r.on_any); e.typed.connect(r.on_typed); e.flag.connect(r.on_flag)
    start = counts()
    for i in range(0, N, BATCH):
        emit_batch(e, i)
        if fell(start, counts()):
            result.update(mode="same-thread", emitted=3 * (i + BATCH), fell=fell(start, counts()))
            report(3)
    result["same_thread_received"] = r.n

    # Across threads (queued connections: emitted on a QThread, received on this one).
    class Sender(QObject):
        go = Signal()
        def __init__(self):
            super().__init__()
            self.e = Emitter()
        @Slot()
        def run(self):
            for i in range(0, N, BATCH):
                emit_batch(self.e, i)

    thread = QThread()
    sender = Sender()
    r2 = Receiver()
    sender.e.any.connect(r2.on_any); sender.e.typed.connect(r2.on_typed); sender.e.flag.connect(r2.on_flag)
    sender.moveToThread(thread)
    sender.e.moveToThread(thread)
    sender.go.connect(sender.run)
    thread.start()
    start = counts()
    sender.go.emit()
    deadline = time.monotonic() + 60
    while r2.n < 3 * N and time.monotonic() < deadline:
        app.processEvents()
        if fell(start, counts()):
            result.update(mode="cross-thread", emitted=r2.n, fell=fell(start, counts()))
            thread.quit(); thread.wait()
            report(3)
    thread.quit(); thread.wait()
    result["cross_thread_received"] = r2.n
    result["fell"] = fell(start, counts())
    report(3 if result["fell"] else 0)
""")


def test_signal_emission_keeps_refcounts_of_true_false_none():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode != -6, f"the interpreter aborted during signal emission:\n{proc.stderr[-2000:]}"
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no result (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
    result = json.loads(lines[-1])
    assert proc.returncode == 0, (
        f"PySide6 {result['pyside']} on Python {result['python']} loses references on signal emission "
        f"({result.get('mode')}: counts fell by {result.get('fell')} after {result.get('emitted')} emissions); "
        "install a release pyproject.toml allows (PySide6-Essentials<6.12 on Python < 3.12)")
    assert result["same_thread_received"] == 3 * 3000
    assert result["cross_thread_received"] == 3 * 3000
