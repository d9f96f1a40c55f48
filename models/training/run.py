"""A training run directory: config, metrics log, resumable state and shippable weights.

Layout of RUN_DIR:
  config.json          the model and training configs the run was started with
  metrics.jsonl        one JSON object of named metrics per logged step
  state.pt             resumable state: step, model, optimizer, RNG states (torch.load weights_only)
  model.safetensors    shippable weights with the model config in the header
  plots/               training figures (e.g. attention)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)


class RunDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    config_path = property(lambda self: self.path / "config.json")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    state_path = property(lambda self: self.path / "state.pt")
    weights_path = property(lambda self: self.path / "model.safetensors")

    def has_state(self) -> bool:
        return self.state_path.is_file()

    def save_config(self, **configs: Any) -> None:
        data = {name: dataclasses.asdict(c) if dataclasses.is_dataclass(c) else c for name, c in configs.items()}
        self.config_path.write_text(json.dumps(data, indent=2))

    def load_config(self) -> dict[str, Any]:
        return json.loads(self.config_path.read_text())

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        record = {"step": step, "time": round(time.time(), 3), **{k: _num(v) for k, v in metrics.items()}}
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.exists():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]

    def save_state(self, state: dict[str, Any]) -> None:
        tmp = self.state_path.with_suffix(".pt.part")
        torch.save(state, tmp)
        tmp.replace(self.state_path)

    def load_state(self) -> dict[str, Any]:
        return torch.load(self.state_path, map_location="cpu", weights_only=True)


def _num(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        v = v.item()
    return round(v, 6) if isinstance(v, float) else v


def rng_state(np_gen: np.random.Generator) -> dict[str, Any]:
    """Every random state a trainer depends on, in a weights_only-loadable form."""
    return {"torch": torch.get_rng_state(), "python": list(_py_state()),
            "numpy": json.dumps(np_gen.bit_generator.state)}


def set_rng_state(state: dict[str, Any], np_gen: np.random.Generator) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_gen.bit_generator.state = json.loads(state["numpy"])


def _py_state() -> tuple:
    return random.getstate()


class StopFlag:
    """Turns Ctrl-C (SIGINT) and SIGTERM into a flag the training loop checks between steps."""

    def __init__(self) -> None:
        self.stop = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stop:  # second Ctrl-C: give up at once
            raise KeyboardInterrupt
        log.warning("stopping after this step (state will be saved); press Ctrl-C again to abort")
        self.stop = True

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
