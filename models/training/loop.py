"""The optimisation loop every trainer shares: per-step seeding, metrics, saving, resume, Ctrl-C."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed

from models.checkpoint import config_from_dict, save_safetensors
from models.training.distributed import World, average
from models.training.run import RunDir, StopFlag

log = logging.getLogger(__name__)

# One optimisation step: (step, rng) -> named metrics. "loss" is averaged over ranks when logged.
StepFn = Callable[[int, np.random.Generator], dict[str, float]]


@dataclass
class Loop:
    kind: str  # "encoder" | "synthesizer" | "vocoder": the safetensors kind
    run: RunDir
    world: World
    net: torch.nn.Module  # the unwrapped network whose weights are shipped
    model_config: Any
    optimizer: torch.optim.Optimizer
    seed: int
    save_every: int
    log_every: int
    on_save: Callable[[int], None] | None = None
    # more resumable state saved in state.pt under its name (e.g. discriminators and their optimizer);
    # each value has state_dict() / load_state_dict()
    extras: dict[str, Any] | None = None

    def resume(self) -> int:
        """Load state.pt into the network and optimizer; returns the step to continue from."""
        state = self.run.load_state()
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for name, obj in (self.extras or {}).items():
            obj.load_state_dict(state[name])
        log.info("resumed %s at step %d", self.run.path, int(state["step"]))
        return int(state["step"])

    def save(self, step: int) -> None:
        if not self.world.is_main:
            return
        extras = {name: obj.state_dict() for name, obj in (self.extras or {}).items()}
        self.run.save_state({"step": step, "model": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                             **extras})
        save_safetensors(self.run.weights_path, self.net.state_dict(), self.kind, self.model_config,
                         {"step": str(step)})
        if self.on_save:
            self.on_save(step)

    def train(self, step_fn: StepFn, step: int, max_steps: int | None) -> int:
        """Run `step_fn` until `max_steps` (or Ctrl-C), saving every `save_every` steps and at the end.

        The randomness of a step depends only on (seed, rank, step), so a resumed run replays
        exactly the steps an uninterrupted run would have taken.
        """
        with StopFlag() as flag:
            while max_steps is None or step < max_steps:
                started = time.perf_counter()
                torch.manual_seed(hash((self.seed, self.world.rank, step)) & 0x7FFF_FFFF_FFFF)
                metrics = step_fn(step, np.random.default_rng([self.seed, self.world.rank, step]))
                step += 1
                if step % self.log_every == 0 or step == 1:
                    metrics = {**metrics, "loss": average(float(metrics["loss"]), self.world),
                               "step_s": time.perf_counter() - started, "world_size": self.world.size}
                    if self.world.is_main:
                        self.run.log_metrics(step, metrics)
                        log.info("%s step %d loss %.4f", self.kind, step, metrics["loss"])
                if step % self.save_every == 0:
                    self.save(step)
                if flag.stop:
                    break
        self.save(step)
        if self.world.distributed:  # every rank waits for rank 0's final save before tearing down
            torch.distributed.barrier()
        return step


def start_or_resume(run: RunDir, resume: bool, world: World, kind: str, configs: dict[str, tuple[type, Any]],
                    ) -> dict[str, Any]:
    """The run's configs: from config.json when resuming, else the given ones (saved by rank 0).

    configs: name -> (dataclass type, instance to use for a new run).
    """
    if resume:
        if not run.has_state():
            raise FileNotFoundError(f"{run.path}: nothing to resume (no state.pt)")
        saved = run.load_config()
        return {name: config_from_dict(cls, saved[name]) for name, (cls, _) in configs.items()}
    if run.has_state():
        raise FileExistsError(f"{run.path} already holds a run; pass --resume to continue it")
    chosen = {name: value for name, (_, value) in configs.items()}
    if world.is_main:
        run.save_config(**chosen, kind=kind)
    return chosen


def run_configs(run: RunDir, config: str, resume: bool, world: World, kind: str,
                presets: dict[str, tuple[Callable, Callable]], model_cls: type, train_cls: type) -> tuple[Any, Any]:
    """(model config, train config) of a run: `config` (a preset name or JSON file) for a new run, the
    run's config.json when resuming (see start_or_resume)."""
    model_new, train_new = load_preset(config, presets, model_cls, train_cls)
    chosen = start_or_resume(run, resume, world, kind,
                             {"model": (model_cls, model_new), "train": (train_cls, train_new)})
    return chosen["model"], chosen["train"]


def load_preset(preset_or_file: str, presets: dict[str, tuple[Callable, Callable]], model_cls: type,
                train_cls: type) -> tuple[Any, Any]:
    """A named preset, or a JSON file {"model": {...}, "train": {...}} overriding the defaults."""
    if preset_or_file in presets:
        model, train = presets[preset_or_file]
        return model(), train()
    path = Path(preset_or_file)
    if not path.is_file():
        raise ValueError(f"unknown config {preset_or_file!r}: use one of {sorted(presets)} or a JSON file")
    import json
    data = json.loads(path.read_text())
    return config_from_dict(model_cls, data.get("model", {})), config_from_dict(train_cls, data.get("train", {}))
