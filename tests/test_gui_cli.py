"""`sv2tts toolbox` as a user starts it: a real process, offscreen, no sound card."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_toolbox(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_DATA_HOME=str(tmp_path / "data"))
    return subprocess.run([sys.executable, "-m", "toolbox", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_toolbox_opens_and_closes_cleanly_without_audio_device(tmp_path):
    proc = run_toolbox("--demo", "--exit-after", "3", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "toolbox window shown" in proc.stderr
    assert "Traceback" not in proc.stderr
    logs = list((tmp_path / "state").rglob("toolbox.log"))
    assert logs and "window shown" in logs[0].read_text()  # the rotating log file in the user log dir


def test_toolbox_rejects_missing_datasets_root(tmp_path):
    proc = run_toolbox("--datasets-root", str(tmp_path / "nowhere"), tmp_path=tmp_path)
    assert proc.returncode == 1
    assert "no such folder" in proc.stderr


def test_real_window_under_xvfb_explains_missing_audio_device(tmp_path):
    """A real X11 window (xcb platform) on a virtual screen; this machine has no sound card."""
    import shutil

    import pytest

    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run not installed (Debian package xvfb)")
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_DATA_HOME=str(tmp_path / "data"), QT_QPA_PLATFORM="xcb")
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-m", "toolbox", "--demo",
           "--exit-after", "4"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "toolbox window shown" in proc.stderr and "Traceback" not in proc.stderr
    log = next((tmp_path / "state").rglob("toolbox.log")).read_text()
    assert "Recording and playback are disabled" in log  # the banner's explanation, also logged
