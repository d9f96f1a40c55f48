"""The Models menu's download dialog against a local Hugging-Face-style server (tests/hub.py, no network):
the real ModelStore, StoreEngine and window, the download on the dialog's worker thread."""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from pathlib import Path

import pytest
import torch
from hub import REPO, HubServer, closed_port
from PySide6.QtCore import Qt

from models.store import ModelStore
from toolbox.audio_io import FakeAudioBackend
from toolbox.gui.download import WHAT_IT_DOES, megabytes
from toolbox.gui.engine import StoreEngine
from toolbox.gui.testing import make_window

T = 15_000  # ms, a timeout only (a 2-core machine shared with other jobs)


def _torch_bytes(n: int) -> bytes:
    buf = io.BytesIO()
    torch.save({"model_state": {"w": torch.arange(n, dtype=torch.float32)}}, buf)
    return buf.getvalue()


ENCODER = _torch_bytes(300)
VOCODER = _torch_bytes(400_000)  # 1.6 MB: several 256 KiB progress steps
SYNTH = _torch_bytes(200_000)
SYNTH_CORRUPT = bytearray(SYNTH)
SYNTH_CORRUPT[len(SYNTH) // 2] ^= 0xFF  # same size and container, other bytes: only the sha256 tells
SAFETENSORS = b"\x10\x00\x00\x00\x00\x00\x00\x00" + b'{"__metadata__":{}}  '


def _entry(name: str, data: bytes) -> dict:
    return {"name": name, "kind": name, "filename": f"{name}.pt", "format": "torch", "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "description": f"test {name}",
            "sources": [{"type": "huggingface", "repo_id": REPO, "revision": "main", "filename": f"{name}.pt"}]}


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch):
    server = HubServer(chunk=64 * 1024, delay=0.01)
    server.put("encoder.pt", ENCODER)
    server.put("vocoder.pt", VOCODER)
    server.put("synthesizer.pt", bytes(SYNTH_CORRUPT))
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    yield server
    server.close()


@pytest.fixture
def store(tmp_path: Path, hub: HubServer) -> ModelStore:
    (tmp_path / "bundled.safetensors").write_bytes(SAFETENSORS)
    bundled = {"name": "demo-vocoder", "kind": "vocoder", "path": "bundled.safetensors", "format": "safetensors",
               "size": len(SAFETENSORS), "sha256": None, "sources": []}
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"schema": 1, "models": [
        _entry("encoder", ENCODER), _entry("synthesizer", SYNTH), _entry("vocoder", VOCODER), bundled]}))
    store = ModelStore(cache_dir=tmp_path / "cache", manifest=manifest)
    hand = tmp_path / "encoder-by-hand.pt"
    hand.write_bytes(ENCODER)
    store.import_file(hand, name="encoder")  # one model is already here
    return store


@pytest.fixture
def window(qtbot, tmp_path: Path, store: ModelStore):
    w, executor = make_window(StoreEngine(store=store), FakeAudioBackend(), tmp_dir=tmp_path)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown(worker_wait_ms=10_000)
    executor.shutdown(wait=True)
    if w.download_dialog is not None:
        assert not w.download_dialog.running or w.download_dialog.shutdown(10_000)


def _open(qtbot, window):
    window.actions["download_models"].trigger()
    dialog = window.download_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3, timeout=T)
    return dialog


def _cell(dialog, name: str, col: int) -> str:
    row = next(i for i in range(dialog.table.rowCount()) if dialog.table.item(i, 0).text() == name)
    return dialog.table.item(row, col).text()


def _checkable(dialog, name: str) -> bool:
    row = next(i for i in range(dialog.table.rowCount()) if dialog.table.item(i, 0).text() == name)
    return bool(dialog.table.item(row, 0).flags() & Qt.ItemFlag.ItemIsUserCheckable)


def _only(dialog, name: str) -> None:
    for i in range(dialog.table.rowCount()):
        item = dialog.table.item(i, 0)
        if item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
            item.setCheckState(Qt.CheckState.Checked if item.text() == name else Qt.CheckState.Unchecked)
    assert dialog.ticked() == [name]


def _cache_contents(store: ModelStore) -> list[str]:
    return sorted(str(p.relative_to(store.cache_dir)) for p in store.cache_dir.rglob("*")
                  if ".verified" not in p.parts)


def test_dialog_lists_the_downloadable_models(qtbot, window, store):
    assert window.actions["download_models"].isEnabled()
    dialog = _open(qtbot, window)
    names = [dialog.table.item(i, 0).text() for i in range(3)]
    assert names == ["encoder", "synthesizer", "vocoder"]  # the bundled demo-vocoder is not offered
    assert _cell(dialog, "vocoder", 1) == WHAT_IT_DOES["vocoder"] == "Turns the spectrogram into sound you can hear"
    assert _cell(dialog, "vocoder", 2) == "1.6 MB" == megabytes(len(VOCODER))
    assert _cell(dialog, "encoder", 3) == "Ready (checked)"
    assert _cell(dialog, "vocoder", 3) == _cell(dialog, "synthesizer", 3) == "Not downloaded"
    assert dialog.ticked() == ["synthesizer", "vocoder"]  # the missing ones, ready to download
    assert dialog.download_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert dialog.progress_label.text() == "2 of 3 models to download."
    dialog._batch = ["vocoder"]
    dialog._show_bytes("vocoder", 1_500_000_000, 3_000_000_000)  # past the bar's 32-bit range: KiB steps
    assert (dialog.progress.maximum(), dialog.progress.value()) == (3_000_000_000 // 1024, 1_500_000_000 // 1024)
    assert dialog.progress_label.text() == "Downloading vocoder.pt: 1500.0 MB of 3000.0 MB"


def test_download_shows_bytes_and_refreshes_the_model_pickers(qtbot, window, store, hub):
    box = window.generate_panel.model_boxes["vocoder"]
    assert box.itemData(box.findText("vocoder"), Qt.ItemDataRole.ToolTipRole).startswith("Not downloaded")
    dialog = _open(qtbot, window)
    _only(dialog, "vocoder")
    seen: list[tuple[int, int, str]] = []  # (bar value, bar maximum, label before the value was set)
    dialog.progress.valueChanged.connect(
        lambda v: seen.append((v, dialog.progress.maximum(), dialog.progress_label.text())))
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    # The click returns at once: the download runs on the dialog's worker thread.
    assert dialog.running and store.path("vocoder") is None
    assert dialog.cancel_button.isEnabled() and not dialog.download_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.message.text().startswith("Downloaded"), timeout=T)
    assert dialog.message.text() == "Downloaded the vocoder model (1.6 MB); it is checked and ready to use."

    size = len(VOCODER)
    assert dialog.progress.maximum() == size and dialog.progress.value() == size
    values = [v for v, m, _ in seen if m == size]
    assert values[-1] == size and values == sorted(values)
    middle = [v for v in values if 0 < v < size]
    assert len(middle) >= 2, values  # bytes shown as they arrive, not only at the end
    assert any(re.fullmatch(r"Downloading vocoder\.pt: \d\.\d MB of 1\.6 MB", label) for _, _, label in seen)

    path = store.cache_dir / "vocoder.pt"
    assert store.path("vocoder") == path and path.read_bytes() == VOCODER
    assert not box.itemData(box.findText("vocoder"), Qt.ItemDataRole.ToolTipRole)  # the picker offers it now
    assert window.status.last_line().endswith(f"Downloaded the vocoder model to {path}")
    assert window.status.errors == []
    qtbot.waitUntil(lambda: not dialog.running and not _checkable(dialog, "vocoder"), timeout=T)  # listed again
    assert _cell(dialog, "vocoder", 3) == "Ready (checked)"
    assert _checkable(dialog, "synthesizer") and dialog.ticked() == []  # the user's untick is kept
    assert not dialog.download_button.isEnabled()
    assert _cache_contents(store) == ["encoder.pt", "vocoder.pt"]


def test_cancel_stops_the_download_promptly_and_keeps_nothing(qtbot, window, store, hub):
    hub.chunk, hub.delay = 32 * 1024, 0.1  # 1.6 MB in ~5 s
    dialog = _open(qtbot, window)
    _only(dialog, "vocoder")
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.progress.maximum() == len(VOCODER) and dialog.progress.value() > 0, timeout=T)
    t0 = time.monotonic()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert dialog.progress_label.text() == "Stopping…" and not dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: "cancelled" in dialog.message.text(), timeout=T)
    stopped = time.monotonic() - t0
    assert stopped < 2.0  # the next 256 KiB piece (~0.8 s on this link), not the rest of the file (~4 s)
    assert dialog.message.text() == "Download of the vocoder model cancelled; nothing of it was kept."
    qtbot.waitUntil(lambda: not dialog.running, timeout=T)
    assert dialog.download_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert hub.sent_bytes("vocoder.pt") < len(VOCODER)
    assert store.path("vocoder") is None
    assert _cache_contents(store) == ["encoder.pt"]  # no partial file, .incomplete, .part or .tmp folder
    qtbot.waitUntil(lambda: _cell(dialog, "vocoder", 3) == "Not downloaded", timeout=T)


@pytest.mark.parametrize("how", ["HF_HUB_OFFLINE", "no network"])
def test_offline_shows_one_line(qtbot, window, store, monkeypatch, how):
    import huggingface_hub.constants as hf_constants

    if how == "HF_HUB_OFFLINE":
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)  # what HF_HUB_OFFLINE=1 sets at import
        reason = "offline: HF_HUB_OFFLINE is set, so the Hugging Face Hub is not contacted"
    else:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
        reason = "offline: cannot reach the Hugging Face Hub (ConnectError)"
    dialog = _open(qtbot, window)
    _only(dialog, "vocoder")
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.message.text().startswith("Could not"), timeout=T)
    assert dialog.message.text() == f"Could not download the vocoder model: {reason}"
    qtbot.waitUntil(lambda: not dialog.running, timeout=T)
    assert _cell(dialog, "vocoder", 3) == "Not downloaded"
    assert _cache_contents(store) == ["encoder.pt"]


def test_a_file_failing_its_sha256_is_refused(qtbot, window, store):
    dialog = _open(qtbot, window)
    _only(dialog, "synthesizer")
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.message.text().startswith("Could not"), timeout=T)
    text = dialog.message.text()
    assert re.fullmatch(r"Could not download the synthesizer model: sha256 mismatch: [0-9a-f]{16}\.\.\. instead "
                        r"of [0-9a-f]{16}\.\.\. \(a corrupt or different file\)", text), text
    qtbot.waitUntil(lambda: not dialog.running, timeout=T)
    assert store.path("synthesizer") is None and _cache_contents(store) == ["encoder.pt"]


def test_closing_the_window_mid_download_stops_it(qtbot, window, store, hub):
    hub.chunk, hub.delay = 32 * 1024, 0.1
    dialog = _open(qtbot, window)
    _only(dialog, "vocoder")
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=T)
    window.shutdown(worker_wait_ms=5_000)
    assert not dialog.running or not dialog._thread.isRunning()
    assert store.path("vocoder") is None and _cache_contents(store) == ["encoder.pt"]
