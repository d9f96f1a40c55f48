"""`sv2tts bench TARGET [--json]`: speed and memory measurements, printed as JSON."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
import sys
from pathlib import Path

from toolbox.bench import TARGETS
from toolbox.cli import Parser
from toolbox.cpu import add_threads_argument

EXAMPLES = """examples:
  sv2tts bench cli --json            # start-up time of sv2tts --help / --version, and of import torch
  sv2tts bench encoder --limit 50
  sv2tts bench vocoder --seconds 2 --threads 1 --json"""


class TargetParser(Parser):
    """A bench target's parser, filled in (its module imported: torch, numpy) only when it is used."""

    module_name: str | None = None

    def parse_known_args(self, args=None, namespace=None):
        if self.module_name is not None:
            module = importlib.import_module(self.module_name)
            self.module_name = None
            module.add_arguments(self)
            if not any("--threads" in a.option_strings for a in self._actions):
                add_threads_argument(self)
            self.set_defaults(func=lambda a, m=module: _run(m, a))
        return super().parse_known_args(args, namespace)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="measure speed against a naive baseline (JSON)", epilog=EXAMPLES)
    targets = parser.add_subparsers(dest="target", metavar="TARGET", parser_class=TargetParser)
    for name in TARGETS:
        summary = _summary(f"toolbox.bench.{name}")
        if summary is None:
            continue  # not built yet
        p = targets.add_parser(name, help=summary, description=summary,
                               epilog=f"examples:\n  sv2tts bench {name}\n  sv2tts bench {name} --json > {name}.json")
        p.add_argument("--json", action="store_true", help="print only the JSON report")
        p.module_name = f"toolbox.bench.{name}"


def _summary(module: str) -> str | None:
    """The first line of a module's docstring, read without importing it (nor the slow `ast`); None if
    there is no such module."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    try:
        source = Path(spec.origin).read_text(encoding="utf-8")
        m = re.match(r'\s*(?:#[^\n]*\n\s*)*[rRuU]?"""\s*([^\n]*?)(?:"""|\n)', source)
    except (OSError, ValueError):  # e.g. only byte code installed
        m = None
    return m.group(1).strip() if m and m.group(1).strip() else module.rsplit(".", 1)[1]


def _run(module, args: argparse.Namespace) -> int:
    import json

    report = {"target": args.target, "machine": machine_info(), **module.run(args)}
    text = json.dumps(report, indent=2)
    print(text)
    if not args.json and not args.quiet:
        print(f"(bench {args.target} done)", file=sys.stderr)
    return 0


def machine_info() -> dict:
    import platform

    info = {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
            "cpu_model": _cpu_model(), "cpu_flags": cpu_flags()}
    torch = sys.modules.get("torch")  # not imported by every target (bench cli must not load it)
    if torch is not None:
        info.update(torch=torch.__version__, threads=torch.get_num_threads(),
                    torch_cpu_capability=torch.backends.cpu.get_cpu_capability())
    return info


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
    import platform

    return platform.processor()
