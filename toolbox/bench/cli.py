"""Command-line start-up: median wall time of `sv2tts --help` and `--version`, and of `import torch` apart.

Each is a fresh process (`python -m toolbox.cli ...`, or the installed `sv2tts` script with
--script), run --repeats times in turn; the report gives the median and the spread. An empty
interpreter (`python -c pass`) is timed too, so what the toolbox adds is visible. The target for
--help and --version is < 0.5 s; they never import torch, which is checked (`loads_torch`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.5


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repeats", type=int, default=7, help="runs of each command (default 7)")
    p.add_argument("--script", action="store_true",
                   help="time the `sv2tts` console script next to this Python instead of `python -m toolbox.cli`")


def _time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-300:]}")
    return elapsed


def _loads_torch(sv2tts: list[str], env: dict[str, str]) -> bool:
    """Whether `sv2tts --help` imports torch (python -X importtime lists every import on stderr)."""
    if sv2tts[0] != sys.executable:
        return False  # a console script cannot take -X; the module form is checked by the tests
    proc = subprocess.run([sys.executable, "-X", "importtime", *sv2tts[1:], "--help"], capture_output=True,
                          env=env, check=False, text=True)
    return any(line.rstrip().endswith(("| torch", "| scipy", "| librosa")) for line in proc.stderr.splitlines())


def run(args: argparse.Namespace) -> dict:
    from toolbox.cli import UserError

    if args.repeats < 1:
        raise UserError("--repeats must be at least 1")
    sv2tts = [sys.executable, "-m", "toolbox.cli"]
    if args.script:
        script = shutil.which("sv2tts", path=str(Path(sys.executable).parent))
        if script is None:
            raise UserError(f"no sv2tts script next to {sys.executable}; install the package or drop --script")
        sv2tts = [script]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)  # this tree's code
    commands = {"help": [*sv2tts, "--help"], "version": [*sv2tts, "--version"],
                "import_torch": [sys.executable, "-c", "import torch"], "python": [sys.executable, "-c", "pass"]}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):  # interleaved, so that load drifting during the run hits all alike
        for name, cmd in commands.items():
            times[name].append(_time(cmd, env))
    report: dict = {"command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(sv2tts)),
                    "repeats": args.repeats, "target_s": TARGET_S, "load_average": _load()}
    for name, values in times.items():
        report[f"{name}_median_s"] = round(statistics.median(values), 4)
        report[f"{name}_min_s"] = round(min(values), 4)
        report[f"{name}_max_s"] = round(max(values), 4)
    report["help_and_version_under_target"] = max(report["help_median_s"], report["version_median_s"]) < TARGET_S
    report["help_loads_torch_scipy_or_librosa"] = _loads_torch(sv2tts, env)
    return report


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None
