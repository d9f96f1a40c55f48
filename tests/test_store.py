"""The model store against a local Hugging-Face-style HTTP server: the real download code, small files."""

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

from models.checkpoint import CheckpointError
from models.store import HFSource, ModelMissingError, ModelStore
from toolbox.cli import main

HTML = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please log in</body></html>\n"


def _torch_bytes(n: int) -> bytes:
    buf = io.BytesIO()
    torch.save({"model_state": {"w": torch.arange(n, dtype=torch.float32)}}, buf)
    return buf.getvalue()


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch):
    server = HubServer()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    yield server
    server.close()


GOOD = _torch_bytes(300)
OTHER = _torch_bytes(40)


def _manifest(tmp_path: Path, extra: list[dict] | None = None) -> Path:
    def hf(name: str, data: bytes, fname: str | None = None, sha: bool = True) -> dict:
        return {"name": name, "kind": "encoder", "filename": f"{name}.pt", "format": "torch",
                "size": len(data), "sha256": hashlib.sha256(data).hexdigest() if sha else None,
                "sources": [{"type": "huggingface", "repo_id": REPO, "revision": "main",
                             "filename": fname or f"{name}.pt"}]}

    models = [hf("good", GOOD), hf("truncated", GOOD), hf("html", GOOD), hf("absent", GOOD),
              hf("nohash", OTHER, sha=False)] + (extra or [])
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"schema": 1, "models": models}))
    return path


@pytest.fixture
def store(tmp_path: Path, hub: HubServer) -> ModelStore:
    hub.put("good.pt", GOOD)
    hub.put("truncated.pt", GOOD[: len(GOOD) // 2])
    hub.put("html.pt", HTML)
    hub.put("nohash.pt", OTHER)
    return ModelStore(cache_dir=tmp_path / "cache", manifest=_manifest(tmp_path))


def _cache_files(store: ModelStore) -> list[str]:
    if not store.cache_dir.exists():
        return []
    return sorted(str(p.relative_to(store.cache_dir)) for p in store.cache_dir.rglob("*") if p.is_file()
                  and ".verified" not in p.parts)


def test_good_download_is_verified_cached_and_not_fetched_again(store: ModelStore, hub: HubServer) -> None:
    assert store.path("good") is None
    path = store.get("good", download=True)
    assert path == store.cache_dir / "good.pt"
    assert path.read_bytes() == GOOD
    assert hub.gets("good.pt") == 1
    assert any(m == "HEAD" for m, _ in hub.requests)  # huggingface_hub's metadata call was served
    assert _cache_files(store) == ["good.pt"]  # no staging left behind

    assert store.get("good", download=True) == path
    assert store.path("good") == path
    assert hub.gets("good.pt") == 1
    [result] = store.verify("good")
    assert result.ok and result.size == len(GOOD) and result.sha256 == hashlib.sha256(GOOD).hexdigest()
    assert result.format == "torch-zip"


def test_hash_is_remembered_until_the_file_changes(store: ModelStore,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = store.download("good", progress=False)
    calls = []
    real = hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda *a: calls.append(1) or real(*a))
    for _ in range(3):
        assert store.get("good") == path
    assert calls == []  # remembered by size + mtime
    data = bytearray(path.read_bytes())
    data[-30] ^= 0xFF  # same size, different content, newer mtime
    path.write_bytes(bytes(data))
    assert store.path("good") is None
    with pytest.raises(ModelMissingError, match="sha256 mismatch"):
        store.get("good")


def test_truncated_download_is_refused_with_byte_counts(store: ModelStore) -> None:
    with pytest.raises(CheckpointError) as err:
        store.download("truncated", progress=False)
    half, full = len(GOOD) // 2, len(GOOD)
    assert f"truncated: {half:,} of {full:,} bytes" in str(err.value)
    assert "sv2tts models import" in str(err.value)
    assert _cache_files(store) == []
    assert store.path("truncated") is None


def test_html_page_is_refused(store: ModelStore) -> None:
    with pytest.raises(CheckpointError, match="HTML page instead of model weights"):
        store.download("html", progress=False)
    assert _cache_files(store) == []


def test_missing_remote_file_says_404(store: ModelStore) -> None:
    with pytest.raises(CheckpointError) as err:
        store.download("absent", progress=False)
    assert "404 not found: absent.pt" in str(err.value)
    assert "\n" not in str(err.value)
    assert _cache_files(store) == []


def test_unknown_size_hash_is_still_recorded(store: ModelStore) -> None:
    path = store.download("nohash", progress=False)
    [result] = store.verify("nohash")
    assert result.ok and result.path == path and result.sha256 == hashlib.sha256(OTHER).hexdigest()


def test_missing_error_says_how_to_get_it(store: ModelStore) -> None:
    with pytest.raises(ModelMissingError) as err:
        store.get("good")
    msg = str(err.value)
    assert isinstance(err.value, CheckpointError)
    assert "the good model is missing" in msg and str(store.cache_dir / "good.pt") in msg
    assert "`sv2tts models download good`" in msg and "`sv2tts models import PATH`" in msg
    assert f"Hugging Face repo {REPO}, file good.pt" in msg
    with pytest.raises(CheckpointError, match="known models: good, truncated"):
        store.get("nonesuch")


def test_import_identifies_verifies_and_copies(store: ModelStore, tmp_path: Path) -> None:
    good = tmp_path / "downloaded-by-hand.bin"
    good.write_bytes(GOOD)
    # Several entries share GOOD's size and hash; "good" is the first that matches.
    assert store.import_file(good, name="good") == store.cache_dir / "good.pt"
    assert store.path("good") == store.cache_dir / "good.pt"
    assert good.exists()  # copied, not moved

    other = tmp_path / "other.pt"
    other.write_bytes(OTHER)
    assert store.import_file(other) == store.cache_dir / "nohash.pt"  # recognised by its size

    bad = tmp_path / "bad.pt"
    bad.write_bytes(GOOD[:100])
    with pytest.raises(CheckpointError, match="not a known model file"):
        store.import_file(bad)
    with pytest.raises(CheckpointError, match=f"truncated: 100 of {len(GOOD):,} bytes"):
        store.import_file(bad, name="good")
    page = tmp_path / "page.pt"
    page.write_bytes(HTML)
    with pytest.raises(CheckpointError, match="HTML"):
        store.import_file(page, name="html")
    assert _cache_files(store) == ["good.pt", "nohash.pt"]


def test_bundled_entry_is_found_without_cache(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    data = b"\x10\x00\x00\x00\x00\x00\x00\x00" + b'{"__metadata__":{}}  '  # sniffs as safetensors
    (tmp_path / "demo" / "enc.safetensors").write_bytes(data)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"models": [{"name": "demo-encoder", "kind": "encoder",
                                                "path": "demo/enc.safetensors", "format": "safetensors",
                                                "size": len(data), "sha256": None, "sources": []}]}))
    store = ModelStore(cache_dir=tmp_path / "cache", manifest=manifest)
    [entry] = store.entries()
    assert entry.filename == "enc.safetensors" and entry.path == tmp_path / "demo" / "enc.safetensors"
    assert store.get("demo-encoder") == entry.path
    with pytest.raises(ModelMissingError, match="bundled with the toolbox"):
        store.download("demo-encoder")


def test_cli_list_verify_import(store: ModelStore, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    common = ["models", "--models-dir", str(store.cache_dir), "--manifest", str(store.manifest_path)]
    assert main(common + ["list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^good\s+missing\s+" + f"{len(GOOD):,}", out, re.M)
    assert "sv2tts models download good" in out and "sv2tts models import PATH" in out

    (store.cache_dir).mkdir(parents=True)
    (store.cache_dir / "html.pt").write_bytes(HTML)
    hand = tmp_path / "hand.pt"
    hand.write_bytes(GOOD)
    assert main(common + ["import", str(hand), "--name", "good"]) == 0
    assert "imported" in capsys.readouterr().out
    assert main(common + ["list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^good\s+ok\s+", out, re.M) and re.search(r"^html\s+bad\s+", out, re.M)

    assert main(common + ["verify"]) == 1  # html.pt is bad
    out = capsys.readouterr().out
    assert f"good: ok  {store.cache_dir / 'good.pt'}" in out and hashlib.sha256(GOOD).hexdigest() in out
    assert "html: BAD" in out and "HTML page" in out
    assert main(common + ["verify", "good", "--rehash"]) == 0
    capsys.readouterr()

    assert main(common + ["import", str(tmp_path / "nope.pt")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.pt: file not found" in err and "Traceback" not in err


def test_cli_download_errors_are_one_line(store: ModelStore, capsys: pytest.CaptureFixture) -> None:
    common = ["models", "--models-dir", str(store.cache_dir), "--manifest", str(store.manifest_path)]
    assert main(common + ["download", "--quiet", "truncated"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sv2tts models: error: could not download the truncated")
    assert main(common + ["download", "--quiet", "good"]) == 0
    assert "downloaded and verified" in capsys.readouterr().out
    assert main(common + ["download", "good"]) == 0
    assert "already present" in capsys.readouterr().out
    assert main(common + ["download", "nonesuch"]) == 1
    assert "unknown model 'nonesuch'" in capsys.readouterr().err


def test_offline_hub_is_reported(store: ModelStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    t0 = time.monotonic()
    with pytest.raises(CheckpointError, match=r"offline: cannot reach the Hugging Face Hub \(ConnectError\)"):
        store.download("good", progress=False)
    assert time.monotonic() - t0 < 5  # no long back-off before telling the user

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(CheckpointError, match="offline: HF_HUB_OFFLINE is set"):
        store.download("good", progress=False)
    assert _cache_files(store) == []


def test_non_hub_server_is_reported(store: ModelStore, hub: HubServer) -> None:
    hub.hub_headers = False
    with pytest.raises(CheckpointError, match="did not answer like the Hugging Face Hub"):
        store.download("good", progress=False)
    assert _cache_files(store) == []


BIG = _torch_bytes(400_000)  # 1.6 MB: several progress reports


def _big_store(tmp_path: Path, hub: HubServer) -> ModelStore:
    hub.put("big.pt", BIG)
    big = {"name": "big", "kind": "vocoder", "filename": "big.pt", "format": "torch", "size": len(BIG),
           "sha256": hashlib.sha256(BIG).hexdigest(),
           "sources": [{"type": "huggingface", "repo_id": REPO, "revision": "main", "filename": "big.pt"}]}
    return ModelStore(cache_dir=tmp_path / "cache", manifest=_manifest(tmp_path, [big]))


def test_download_reports_bytes_to_a_callback(tmp_path: Path, hub: HubServer) -> None:
    from huggingface_hub import constants

    from models.fetch import REPORT_CHUNK

    before = (constants.DOWNLOAD_CHUNK_SIZE, constants.HF_HUB_DISABLE_XET)
    store = _big_store(tmp_path, hub)
    hub.chunk = 64 * 1024
    reports: list[tuple[int, int | None]] = []
    path = store.download("big", progress=lambda done, total: reports.append((done, total)))
    assert path.read_bytes() == BIG
    assert reports[0] == (0, len(BIG)) and reports[-1] == (len(BIG), len(BIG))
    done = [d for d, _ in reports]
    assert done == sorted(done) and len(set(done)) == len(done)
    assert len(reports) == 1 + -(-len(BIG) // REPORT_CHUNK)  # one report per 256 KiB piece, not per 10 MB
    assert max(b - a for a, b in zip(done, done[1:], strict=False)) == REPORT_CHUNK
    assert (constants.DOWNLOAD_CHUNK_SIZE, constants.HF_HUB_DISABLE_XET) == before  # restored for the CLI
    assert _cache_files(store) == ["big.pt"]


def test_cancel_stops_a_download_promptly_and_leaves_nothing(tmp_path: Path, hub: HubServer) -> None:
    import threading

    from models.fetch import DownloadCancelled

    store = _big_store(tmp_path, hub)
    hub.chunk, hub.delay = 32 * 1024, 0.05  # 1.6 MB in ~2.5 s
    cancel = threading.Event()
    reports: list[int] = []
    cancelled_at: list[float] = []

    def progress(done: int, total: int | None) -> None:
        reports.append(done)
        if done > 0 and not cancelled_at:  # cancel from another thread, like the dialog's button
            threading.Timer(0.05, lambda: (cancelled_at.append(time.monotonic()), cancel.set())).start()

    with pytest.raises(DownloadCancelled):
        store.download("big", progress=progress, cancel=cancel)
    stopped = time.monotonic()
    assert cancelled_at and stopped - cancelled_at[0] < 2.0  # at the next 256 KiB piece (~0.4 s here)
    assert 0 < reports[-1] < len(BIG)
    time.sleep(0.2)
    assert hub.sent_bytes("big.pt") < len(BIG)  # the server stopped sending: the connection was closed
    assert sorted(store.cache_dir.rglob("*")) == []  # no partial file, no .incomplete, no .tmp folder
    assert store.path("big") is None

    cancel.set()  # already set before it starts: nothing is requested
    gets = hub.gets("big.pt")
    with pytest.raises(DownloadCancelled):
        store.download("big", progress=False, cancel=cancel)
    assert hub.gets("big.pt") == gets


def test_work_left_by_a_killed_download_is_swept(tmp_path: Path, hub: HubServer) -> None:
    import os

    store = _big_store(tmp_path, hub)
    old = store.cache_dir / ".tmp" / "big-killed" / "hf" / "big.pt.incomplete"
    fresh = store.cache_dir / ".tmp" / "big-running" / "part"
    for p in (old, fresh):
        p.parent.mkdir(parents=True)
        p.write_bytes(b"x" * 100)
    day_ago = time.time() - 25 * 3600
    for p in (old, old.parent, old.parent.parent):
        os.utime(p, (day_ago, day_ago))
    store.download("big", progress=False)
    assert not old.parent.parent.exists()  # untouched for a day: a killed process's
    assert fresh.exists()  # may be another process's download in progress


def test_download_error_keeps_the_one_line_reasons(store: ModelStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from models.store import DownloadError

    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(DownloadError) as err:
        store.download("good", progress=lambda done, total: None)
    assert err.value.reasons == ("offline: cannot reach the Hugging Face Hub (ConnectError)",)


def test_published_manifest_is_consistent(state_dict_layouts: dict) -> None:
    store = ModelStore(cache_dir=Path("/nonexistent-cache"))
    entries = {e.name: e for e in store.entries()}
    assert set(entries) >= {"encoder", "synthesizer", "vocoder"}
    for name, size in state_dict_layouts["published_sizes_bytes"].items():
        assert entries[name.removesuffix(".pt")].size == size
    enc = entries["encoder"]
    assert enc.sha256 == "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
    assert [type(s) for s in enc.sources] == [HFSource]  # no pip process: the bundled encoder has its weights


def test_published_encoder_fixture_is_the_verified_file(published_encoder_path: Path) -> None:
    """conftest fetches it once (from the resemblyzer wheel, with the test venv's pip) into the store."""
    [result] = ModelStore().verify("encoder")
    assert result.ok and result.path == published_encoder_path and result.size == 17_090_379
    assert result.sha256 == "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
    assert result.format == "torch-legacy"
