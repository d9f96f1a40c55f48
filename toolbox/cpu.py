"""How many CPU threads the compute commands use (`--threads`), chosen before torch is imported.

On a machine already busy with other jobs, more threads than idle cores make torch's small batch-1
operations wait on each other (measured on 2 shared cores: the first encoder call took 20 s with 2
threads, 3.7 s with 1). The default is therefore the number of cores the 1-minute load average leaves
idle, at least 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

log = logging.getLogger(__name__)

# Thread-pool sizes read by OpenMP (torch) and OpenBLAS/MKL (numpy, scipy) when they load. Not
# NUMBA_NUM_THREADS: numba refuses a change of it once its pool has started (the fused vocoder is serial).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def default_threads(cpus: int | None = None, load: float | None = None) -> int:
    """Idle cores: `cpus` minus the 1-minute load average, rounded, within [1, cpus]. Without a load
    average (Windows) every CPU."""
    cpus = available_cpus() if cpus is None else cpus
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            return cpus
    return max(1, min(cpus, round(cpus - load)))


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """`--threads N` (default: idle cores, see default_threads; $OMP_NUM_THREADS wins when set)."""
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads for torch and numerical libraries (default: the cores the load "
                             "average leaves idle, at least 1; or $OMP_NUM_THREADS when set)")


def thread_environment(threads: int | None) -> dict[str, str]:
    """Environment variables that give the numerical libraries `threads` threads ({} to keep the user's
    $OMP_NUM_THREADS when `threads` is None and it is set)."""
    if threads is None:
        if os.environ.get("OMP_NUM_THREADS"):
            return {}
        threads = default_threads()
    if threads < 1:
        raise ValueError(f"--threads {threads}: must be at least 1")
    return {name: str(threads) for name in THREAD_VARIABLES}


def torch_threads(threads: int | None) -> int | None:
    """Set torch's intra-op threads now if torch is already imported (else it reads $OMP_NUM_THREADS
    when it loads). Returns the previous count to restore, or None when nothing was changed."""
    torch = sys.modules.get("torch")
    if torch is None or threads is None:
        return None
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    log.debug("using %d CPU thread(s)", threads)
    return previous
