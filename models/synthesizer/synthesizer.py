"""`Synthesizer`: the inference façade over a Tacotron (loading, text encoding, batching, seeding)."""

from __future__ import annotations

import functools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from models.checkpoint import (
    CheckpointError,
    build_checked,
    config_from_dict,
    load_safetensors,
    load_torch_checkpoint,
    model_state_of,
    save_safetensors,
)
from models.guard import check_finite
from models.synthesizer.config import TacotronConfig
from models.synthesizer.tacotron import PRECISIONS, Tacotron
from models.text import PAD_ID, encode_text

log = logging.getLogger(__name__)

KIND = "synthesizer"
Progress = Callable[[float, str], None]


class Synthesizer:
    """Text + speaker embedding -> 80-band log-mels (n_mels, T) in [-4, 4] at 16 kHz, hop 200.

    Several instances can coexist; nothing is global. Output is stochastic (prenet dropout stays on,
    as the model was trained) but a seed makes it exactly reproducible, and an item's output does not
    depend on which other texts share its batch.
    """

    sample_rate = 16_000
    hop_length = 200
    source = "the synthesizer"  # the weights file (set by from_file), named when a mel is not finite

    def __init__(self, model: Tacotron, precision: str = "auto", batch_size: int = 16,
                 device: str | torch.device = "cpu") -> None:
        """precision: decoder weights at inference: "auto" (int8 on CPUs, fp32 on GPUs), "fp32" (the
        published numbers), "fp16" or "int8" (see models.synthesizer.tacotron). batch_size: texts
        decoded together; it changes speed only, never an item's output."""
        if precision != "auto" and precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; valid: auto, {', '.join(PRECISIONS)}")
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.precision = default_precision(self.device.type) if precision == "auto" else precision
        self.batch_size = batch_size

    @property
    def config(self) -> TacotronConfig:
        return self.model.config

    @property
    def r(self) -> int:
        return self.model.r

    @property
    def n_mels(self) -> int:
        return self.config.n_mels

    # ------------------------------------------------------------------------------------------------
    # Files

    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> Synthesizer:
        """Load the published synthesizer.pt (strict; r from `decoder.r`) or our .safetensors.

        Raises:
            CheckpointError: unreadable, unsafe, or not a synthesizer of a known layout.
        """
        path = Path(path)
        if path.suffix == ".safetensors":
            state, config_dict, _ = load_safetensors(path, kind=KIND)
            config = config_from_dict(TacotronConfig, config_dict, path)
        else:
            state = model_state_of(load_torch_checkpoint(path), path)
            if "decoder.r" not in state:
                raise CheckpointError(f"{path}: not a synthesizer checkpoint (no 'decoder.r'; "
                                      f"first keys: {', '.join(list(state)[:3])})")
            config = TacotronConfig.rtvc()
        r = int(state["decoder.r"]) if "decoder.r" in state else config.r
        if not 1 <= r <= config.max_r:
            raise CheckpointError(f"{path}: decoder.r = {r} is outside 1..{config.max_r}")
        if path.suffix == ".safetensors":  # its config comes from the file: check it before allocating
            build_checked(Tacotron, config, state, path, "synthesizer")
        model = Tacotron(config)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise CheckpointError(f"{path}: the weights do not fit the synthesizer layout "
                                  f"({_mismatch_summary(model, state, e)})") from None
        step = int(state["step"][0]) if "step" in state else 0
        log.info("loaded synthesizer %s (step %d, r = %d, %.1f M parameters)", path, step, model.r,
                 model.num_params() / 1e6)
        synth = cls(model, **kwargs)
        synth.source = str(path)
        return synth

    def save(self, path: str | Path) -> Path:
        """Write shippable weights + config as .safetensors."""
        return save_safetensors(path, self.model.state_dict(), KIND, self.config)

    # ------------------------------------------------------------------------------------------------
    # Synthesis

    def synthesize(self, texts: str | Sequence[str], embeddings: np.ndarray, seed: int | None = None,
                   progress: Progress | None = None, cancel: threading.Event | None = None,
                   return_alignments: bool = False):
        """Synthesize one mel per text.

        texts: a string or a list of N strings (each is cleaned and encoded; see models.text).
        embeddings: (256,) used for every text, or (N, 256) one per text; unit-norm speaker embeddings.
        seed: item i uses seed + i; None draws a random seed.
        progress: called with (fraction 0..1, message). cancel: set it to stop (raises Cancelled).
        Returns: list of N float32 arrays (n_mels, T_i) in [-4, 4] (and, with return_alignments, a list
        of (T_i / r, n_chars_i) attention matrices).
        Raises:
            models.text.TextError: a text is empty or cannot be spoken.
            ValueError: embeddings of the wrong shape.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        embeds = speaker_embeddings(embeddings, len(texts), self.config.speaker_embedding_size)
        seqs = [encode_text(t).ids for t in texts]
        base = secrets.randbits(31) if seed is None else int(seed)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # similar lengths share a batch
        mels: list[np.ndarray | None] = [None] * len(seqs)
        aligns: list[np.ndarray | None] = [None] * len(seqs)
        total_chars = sum(len(s) for s in seqs)
        done_chars = 0
        start = time.perf_counter()
        for b0 in range(0, len(order), self.batch_size):
            idx = order[b0:b0 + self.batch_size]
            batch_chars = sum(len(seqs[i]) for i in idx)

            def batch_progress(f: float, done=done_chars, n=batch_chars) -> None:
                if progress is not None:
                    progress((done + f * n) / total_chars, "synthesizing")

            out, att = self._generate([seqs[i] for i in idx], embeds[idx], [base + i for i in idx],
                                      batch_progress, cancel)
            for j, i in enumerate(idx):
                mels[i], aligns[i] = out[j], att[j]
            done_chars += batch_chars
            if progress is not None:
                progress(done_chars / total_chars, "synthesizing")
        for mel, text in zip(mels, texts, strict=True):
            check_finite(mel, "mel", self.source, repr(text[:40]))
        n_frames = sum(m.shape[1] for m in mels)
        log.debug("synthesized %d texts, %d frames in %.2f s", len(texts), n_frames,
                  time.perf_counter() - start)
        return (mels, aligns) if return_alignments else mels

    def _generate(self, seqs: list[tuple[int, ...]], embeds: np.ndarray, seeds: list[int],
                  progress: Callable[[float], None], cancel: threading.Event | None):
        lengths = torch.tensor([len(s) for s in seqs])
        chars = torch.full((len(seqs), int(lengths.max())), PAD_ID, dtype=torch.long)
        for i, s in enumerate(seqs):
            chars[i, : len(s)] = torch.tensor(s)
        generators = [torch.Generator().manual_seed(s) for s in seeds]
        mels, aligns = self.model.generate(chars.to(self.device), lengths.to(self.device),
                                           torch.from_numpy(embeds).to(self.device), generators, progress,
                                           None if cancel is None else cancel.is_set,
                                           precision=self.precision)
        return ([m.float().cpu().numpy() for m in mels], [a.float().cpu().numpy() for a in aligns])


def _mismatch_summary(model: Tacotron, state: dict[str, torch.Tensor], error: RuntimeError) -> str:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in own.items()
              if k in state and state[k].shape != v.shape]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)):
        if items:
            parts.append(f"{len(items)} {label}: {', '.join(items[:3])}{', ...' if len(items) > 3 else ''}")
    return "; ".join(parts) or str(error).splitlines()[0]


@functools.lru_cache(maxsize=4)
def default_precision(device_type: str) -> str:
    """int8 weights (bf16 activations) on CPUs: at batch 1 the decoder is bound by reading its 64 MB of
    fp32 LSTM weights each step, and int8 reads a quarter of that; its matmul also computes each row
    independently of the others, so batching stays exact. fp32 on GPUs, or if the kernel is missing."""
    if device_type != "cpu":
        return "fp32"
    try:
        w = torch.ones(8, 64, dtype=torch.int8)
        torch._weight_int8pack_mm(torch.ones(1, 64, dtype=torch.bfloat16), w, torch.ones(8, dtype=torch.bfloat16))
    except (RuntimeError, AttributeError) as e:
        log.debug("int8 decoder weights unavailable (%s); using fp32", e)
        return "fp32"
    return "int8"


def speaker_embeddings(embeddings: np.ndarray, n: int, size: int) -> np.ndarray:
    """(size,) for every text or (n, size) one per text -> a writable contiguous (n, size) float32 array.
    Raises ValueError on another shape or non-finite values."""
    e = np.asarray(embeddings, dtype=np.float32)
    if e.shape == (size,):
        e = np.broadcast_to(e, (n, size))
    if e.shape != (n, size):
        raise ValueError(f"embeddings must be ({size},) or ({n}, {size}), got {e.shape}")
    if not np.all(np.isfinite(e)):
        raise ValueError("speaker embeddings contain NaN or infinite values")
    return np.array(e, dtype=np.float32, copy=True)
