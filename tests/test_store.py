"""The model store against a local Hugging-Face-style HTTP server: the real download code, small files."""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from models.checkpoint import CheckpointError
from models.store import HFSource, ModelMissingError, ModelStore
from toolbox.cli import main

REPO = "test-org/tiny-models"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
HTML = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please log in</body></html>\n"


def _torch_bytes(n: int) -> bytes:
    buf = io.BytesIO()
    torch.save({"model_state": {"w": torch.arange(n, dtype=torch.float32)}}, buf)
    return buf.getvalue()


class HubServer:
    """Serves ``/{repo}/resolve/{revision}/{filename}`` like the Hub: HEAD with X-Repo-Commit/ETag/
    Content-Length, GET with Range, 404 with X-Error-Code. Records every request."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.hub_headers = True  # False: answer like a captive portal or plain web server
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                server.requests.append((self.command, self.path))
                m = re.fullmatch(r"/(.+?/.+?)/resolve/([^/]+)/(.+)", self.path)
                data = server.files.get(self.path)
                if m is None or data is None:
                    payload = b'{"error":"Entry not found"}'
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("X-Repo-Commit", COMMIT)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if body:
                        self.wfile.write(payload)
                    return
                start = 0
                rng = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if rng and body:
                    start = int(rng.group(1))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                if server.hub_headers:
                    self.send_header("X-Repo-Commit", COMMIT)
                    self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data) - start))
                kind = "text/html" if data.startswith(b"<") else "application/octet-stream"
                self.send_header("Content-Type", kind)
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if body:
                    self.wfile.write(data[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def put(self, filename: str, data: bytes) -> None:
        self.files[f"/{REPO}/resolve/main/{filename}"] = data

    def gets(self, filename: str) -> int:
        return sum(1 for method, path in self.requests if method == "GET" and path.endswith(f"/{filename}"))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


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

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed}")
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
