"""A local Hugging-Face-style HTTP server for download tests (no network): ``HF_ENDPOINT`` points at it."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO = "test-org/tiny-models"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class HubServer:
    """Serves ``/{repo}/resolve/{revision}/{filename}`` like the Hub: HEAD with X-Repo-Commit/ETag/
    Content-Length, GET with Range, 404 with X-Error-Code. Records every request.

    ``chunk``/``delay``: a GET body is written `chunk` bytes at a time with `delay` seconds between
    writes (a slow link, so tests can watch progress and cancel mid-way); ``sent`` counts body bytes
    written per path (a client that hung up stops the writing)."""

    def __init__(self, chunk: int = 0, delay: float = 0.0) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.sent: dict[str, int] = {}
        self.hub_headers = True  # False: answer like a captive portal or plain web server
        self.chunk, self.delay = chunk, delay
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                try:
                    self._answer(body=True)
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading (cancelled)
                    pass

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
                    step = server.chunk or len(data)
                    for i in range(start, len(data), step):
                        self.wfile.write(data[i:i + step])
                        self.wfile.flush()
                        server.sent[self.path] = server.sent.get(self.path, 0) + len(data[i:i + step])
                        if server.delay and i + step < len(data):
                            time.sleep(server.delay)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def put(self, filename: str, data: bytes) -> None:
        self.files[f"/{REPO}/resolve/main/{filename}"] = data

    def gets(self, filename: str) -> int:
        return sum(1 for method, path in self.requests if method == "GET" and path.endswith(f"/{filename}"))

    def sent_bytes(self, filename: str) -> int:
        return self.sent.get(f"/{REPO}/resolve/main/{filename}", 0)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port() -> int:
    """A local port nobody listens on (connecting fails at once, like being offline)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
