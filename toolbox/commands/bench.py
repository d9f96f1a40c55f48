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
            "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine()}
