"""`sv2tts bench TARGET [--json]`: speed and memory measurements, printed as JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys

import torch

from toolbox.bench import TARGETS


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="measure speed against a naive baseline (JSON)")
    targets = parser.add_subparsers(dest="target", metavar="TARGET")
    for name in TARGETS:
        try:
            module = importlib.import_module(f"toolbox.bench.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"toolbox.bench.{name}":
                continue
            raise
        p = targets.add_parser(name, help=(module.__doc__ or name).strip().splitlines()[0])
        p.add_argument("--json", action="store_true", help="print only the JSON report")
        module.add_arguments(p)
        p.set_defaults(func=lambda args, m=module: _run(m, args))


def _run(module, args: argparse.Namespace) -> int:
    report = {"target": args.target, "machine": machine_info(), **module.run(args)}
    text = json.dumps(report, indent=2)
    print(text)
    if not args.json:
        print(f"(bench {args.target} done)", file=sys.stderr)
    return 0


def machine_info() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
            "cpu_model": _cpu_model(), "cpu_flags": cpu_flags(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}


SPEED_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "neon", "asimd")


def cpu_flags() -> list[str]:
    """The vector-extension flags of this CPU that matter for speed claims (Linux /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    have = set(line.split(":", 1)[1].split())
                    return [flag for flag in SPEED_FLAGS if flag in have]
    except OSError:
        pass
    return []


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
