"""2-D projection of speaker embeddings for the voice map, computed off the GUI thread.

UMAP (numba) holds the GIL while it runs, so by default it runs in a separate *process*
(:class:`Projector` with a one-process pool): the GUI thread never stalls on it. The pool is
warmed up at start-up (imports and JIT compilation, and the fit on the known speakers) so the first
real projection is quick.

When known speakers are available, UMAP is fitted once on them and session utterances are placed
with ``transform``: the map stays stable as utterances arrive. Without them, all session points
are refitted (UMAP from 6 points, PCA below). Until the UMAP process is warm (20-30 s on a busy
2-core machine: numba compiles on first use), requests are answered at once with PCA on a thread so
the map is never empty.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

MIN_UMAP_POINTS = 6
_fitted: dict = {}  # in the projection process: key -> (reducer, known_xy)


def pca_2d(x: np.ndarray) -> np.ndarray:
    """(N, D) -> (N, 2) principal-component coordinates (zeros for fewer than 2 points)."""
    if len(x) < 2:
        return np.zeros((len(x), 2), np.float32)
    c = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    out = c @ vt[:2].T
    if out.shape[1] < 2:
        out = np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
    return out.astype(np.float32)


def _umap(n: int):
    import umap

    return umap.UMAP(n_neighbors=max(2, min(15, math.ceil(math.sqrt(n)))), metric="cosine",
                     init="spectral" if n > 20 else "random", random_state=0, n_jobs=1)


def project(known: np.ndarray | None, session: np.ndarray,
            method: str = "umap") -> tuple[np.ndarray, np.ndarray]:
    """Project embeddings to 2-D.

    known: (K, 256) or None; session: (N, 256). Returns (known_xy (K, 2), session_xy (N, 2)).
    """
    session = np.asarray(session, np.float32).reshape(-1, 256)
    known = np.zeros((0, 256), np.float32) if known is None else np.asarray(known, np.float32)
    if method == "pca":
        xy = pca_2d(np.concatenate([known, session]))
        return xy[:len(known)], xy[len(known):]
    if len(known) >= MIN_UMAP_POINTS * 2:
        key = (known.shape, float(known.sum()))
        if key not in _fitted:
            reducer = _umap(len(known))
            _fitted.clear()
            _fitted[key] = (reducer, reducer.fit_transform(known).astype(np.float32))
        reducer, known_xy = _fitted[key]
        session_xy = reducer.transform(session).astype(np.float32) if len(session) else np.zeros((0, 2))
        return known_xy, np.asarray(session_xy, np.float32)
    everything = np.concatenate([known, session])
    if len(everything) < MIN_UMAP_POINTS:
        xy = pca_2d(everything)
    else:
        xy = _umap(len(everything)).fit_transform(everything).astype(np.float32)
    return xy[:len(known)], xy[len(known):]


def _background_process() -> None:
    """In the projection process, before UMAP is imported: one thread, lowest priority. Its warm-up
    (numba compiling UMAP) takes a core for a minute at start-up; generation must not share it evenly."""
    import os

    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        os.nice(19)
    except OSError:
        pass


def warm_up(known: np.ndarray | None) -> bool:
    """Import UMAP and compile it (by projecting some points), and fit the known speakers."""
    rng = np.random.default_rng(0)
    project(None, rng.standard_normal((MIN_UMAP_POINTS + 2, 256)).astype(np.float32))
    if known is not None and len(known):
        project(known, known[:1])
    return True


class Projector(QObject):
    """Runs :func:`project` on an executor, keeping at most one request queued (the latest).

    `projected(request_id, known_xy, session_xy)` is emitted on the GUI thread; :attr:`method_used`
    says which projection produced the last result ("umap" or "pca").
    """

    projected = Signal(int, object, object)
    failed = Signal(str)
    warmed = Signal()

    def __init__(self, known: np.ndarray | None, executor: Executor | None = None,
                 method: str = "umap", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.known = known
        self.method = method
        self._own = executor is None
        self.executor = executor or ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_background_process)
        self._busy = False
        self._pending: tuple[int, np.ndarray] | None = None
        self._last: tuple[int, np.ndarray] | None = None
        self._closed = False
        self.ready = method != "umap"  # UMAP is usable once warmed up
        self.method_used = method
        self._fallback = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projection-pca")
        self._done.connect(self._on_done)

    _done = Signal(object, int, str)  # future, request id, method (crosses from the executor's thread)

    def warm_up(self) -> None:
        if self.method != "umap":
            self.warmed.emit()
            return
        self._submit(-1, None, warm=True)

    def request(self, request_id: int, session: np.ndarray) -> None:
        if self._closed:
            return
        self._last = (request_id, session)
        if not self.ready:  # quick PCA answer while UMAP warms up
            fut = self._fallback.submit(project, self.known, session, "pca")
            fut.add_done_callback(lambda f: self._emit_done(f, request_id, "pca"))
            return
        if self._busy:
            self._pending = (request_id, session)
        else:
            self._submit(request_id, session)

    def _submit(self, request_id: int, session, warm: bool = False) -> None:
        self._busy = True
        try:
            if warm:
                fut = self.executor.submit(warm_up, self.known)
            else:
                fut = self.executor.submit(project, self.known, session, self.method)
        except RuntimeError as e:  # executor shut down
            self._busy = False
            log.debug("projection not submitted: %s", e)
            return
        fut.add_done_callback(lambda f: self._emit_done(f, request_id, self.method))

    def _emit_done(self, fut: Future, request_id: int, method: str) -> None:
        if not self._closed:
            self._done.emit(fut, request_id, method)

    def _on_done(self, fut: Future, request_id: int, method: str) -> None:
        if method == "pca" and not self.ready:  # a fallback answer
            if not fut.cancelled() and fut.exception() is None and self._last and \
                    self._last[0] == request_id:
                self.method_used = "pca"
                self.projected.emit(request_id, *fut.result())
            return
        self._busy = False
        if fut.cancelled():
            return
        err = fut.exception()
        if err is not None:
            log.error("projection failed: %r", err)
            self.failed.emit(f"Voice map projection failed: {err}")
        elif request_id == -1:
            self.ready = True
            self.warmed.emit()
            if self._last is not None and self._pending is None:
                self._pending = self._last  # redo the latest map with UMAP
        else:
            known_xy, session_xy = fut.result()
            self.method_used = method
            self.projected.emit(request_id, known_xy, session_xy)
        if self._pending is not None and not self._closed:
            rid, session = self._pending
            self._pending = None
            self._submit(rid, session)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pending = None
        self._fallback.shutdown(wait=False, cancel_futures=True)
        if self._own:
            procs = list((getattr(self.executor, "_processes", None) or {}).values())
            for p in procs:  # a projection in flight must not delay quitting
                p.kill()
            self._procs = procs

    def join(self, timeout: float = 1.0) -> None:
        """Wait up to `timeout` for the killed projection process to be gone, then release the pool.

        It was sent SIGKILL, so it ends whatever happens; waiting only lets the pool release its
        semaphores cleanly (no "leaked semaphore" warning), which a loaded machine may not allow in time.
        """
        if not self._own:
            return
        procs = getattr(self, "_procs", [])
        for p in procs:
            p.join(max(timeout, 0.0))
        gone = not any(p.is_alive() for p in procs)
        if not gone:
            log.info("the projection process is still being reaped; not waiting for it (the resource "
                     "tracker releases its semaphores)")
        self.executor.shutdown(wait=gone, cancel_futures=True)
