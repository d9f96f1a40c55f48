"""WaveRNN vocoder: mel (80, T) on the synthesizer's [-4, 4] scale -> 16 kHz float32 audio.

``WaveRNNVocoder`` implements the project's ``Vocoder`` protocol (``sample_rate``, ``vocode``,
``stream``) over the published fatchord WaveRNN. Load the published ``vocoder.pt`` or our
``.safetensors`` with :meth:`WaveRNNVocoder.from_file`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from models.checkpoint import build_checked, load_strict, read_weights, save_safetensors
from models.vocoder.config import VocoderConfig
from models.vocoder.fast import PRECISIONS, CancelCheck, Cancelled, FastWaveRNN, fast_conditioning
from models.vocoder.folding import Finisher, FoldPlan, just_in_time_plan, uniform_plan
from models.vocoder.model import WaveRNN
from models.vocoding import Progress, check_mel

log = logging.getLogger(__name__)

KIND = "vocoder"
SCHEDULES = ("stream", "published")

__all__ = ["WaveRNN", "VocoderConfig", "WaveRNNVocoder", "Cancelled", "PRECISIONS", "SCHEDULES", "load_vocoder"]


def load_vocoder(path: str | Path, **wavernn_kwargs):
    """The vocoder a weights file holds: our iSTFT vocoder (safetensors of kind "istft-vocoder") or a
    WaveRNN (the published .pt or our safetensors). `wavernn_kwargs` (precision, schedule, ...) apply
    to WaveRNN only. Raises models.checkpoint.CheckpointError."""
    from models.checkpoint import safetensors_kind
    from models.vocoder.istft import KIND as ISTFT_KIND

    if Path(path).suffix == ".safetensors" and safetensors_kind(path) == ISTFT_KIND:
        from models.vocoder.istft_vocoder import IstftVocoder

        return IstftVocoder.from_file(path)
    return WaveRNNVocoder.from_file(path, **wavernn_kwargs)


class WaveRNNVocoder:
    """Fast, streaming WaveRNN generation. Several instances may coexist; each owns its network.

    Args:
        net: the network (kept in eval mode on the CPU).
        precision: "float32" (exact weights), "bf16" (bf16 weights in the per-step matmuls and the
            rnn1 input projection; needs AVX-512 BF16 / AMX to be fast) or "auto" (bf16 when the
            CPU supports it, else float32).
        schedule: "stream" (folds that grow with their offset so they finish in time order, capped so
            that about `rows` folds run as one batch; overlap 400) or "published"
            (uniform folds, target 8000 / overlap 800 as the reference's infer_waveform).
        target, overlap: override the schedule's (maximum) fold target / overlap (samples).
        rows: batch rows the "stream" schedule aims for (per-step matmul efficiency vs overlap waste).
        start_s: playback start the "stream" schedule plans for: folds are sized so that each is
            final before playback reaches it when a step takes `step_time` seconds (set it from
            `last_step_time` of an earlier run to calibrate; it never changes by itself, so the
            same seed always gives the same audio).
    """

    def __init__(self, net: WaveRNN, precision: str = "auto", schedule: str = "stream",
                 target: int | None = None, overlap: int | None = None, rows: int = 64,
                 start_s: float = 0.5, step_time: float = 1e-3) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        self.net = net.eval()
        self.config = net.config
        self.sample_rate = net.config.sample_rate
        self.schedule = schedule
        self.target = target or 8000
        self.rows = rows
        self.start_s = start_s
        self.step_time = step_time  # planning only: fixed, so a seed always gives the same audio
        self.last_step_time: float | None = None  # measured on the last run (to calibrate step_time)
        self.overlap = overlap if overlap is not None else (400 if schedule == "stream" else 800)
        self._fast: FastWaveRNN | None = None
        self.precision = precision
        self.set_precision(precision)

    def set_precision(self, precision: str) -> None:
        if precision == "auto":
            precision = "bf16" if bf16_supported() else "float32"
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision = precision
        self._fast = FastWaveRNN(self.net, precision)

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> WaveRNNVocoder:
        """Load the published ``vocoder.pt`` layout (strict) or our ``.safetensors`` format.

        Raises:
            CheckpointError: missing/corrupt file, or weights of another layout.
        """
        path = Path(path)
        state, config, _ = read_weights(path, KIND, VocoderConfig, VocoderConfig.rtvc())
        net = build_checked(WaveRNN, config, state, path, "WaveRNN vocoder")
        load_strict(net, state, path, "WaveRNN vocoder")
        log.info("loaded vocoder %s (trained %d steps)", path.name, int(net.step.item()))
        vocoder = cls(net, **kwargs)
        vocoder.source = str(path)  # named when its output is not finite (models.guard)
        return vocoder

    def save(self, path: str | Path) -> Path:
        """Write the weights and config as our safetensors format."""
        return save_safetensors(path, self.net.state_dict(), KIND, self.config)

    # -- generation --------------------------------------------------------------------------------
    def plan(self, total: int) -> FoldPlan:
        """The fold plan for `total` conditioning samples (T * hop)."""
        if self.schedule == "published":
            return uniform_plan(total, self.target, self.overlap)
        return just_in_time_plan(total, self.rows, self.overlap, self.step_time, self.start_s,
                                 self.sample_rate, max_length=self.target + 2 * self.overlap)

    def stream(self, mel: np.ndarray, *, seed: int | None = None, progress: Progress | None = None,
               cancel: CancelCheck = None) -> Iterator[np.ndarray]:
        """Yield final float32 audio chunks in time order; together (T - 1) * hop samples.

        mel: (80, T) float32 log-mel on the synthesizer's [-4, 4] scale.
        progress(fraction, "vocoding") is called after each block of steps; `cancel` (an Event, or a
        callable returning True) is checked every step and raises Cancelled.
        """
        c = self.config
        mel = check_mel(mel, c.n_mels)
        wave_len = (mel.shape[1] - 1) * c.hop_length
        if wave_len == 0:
            return
        cond = fast_conditioning(self.net, mel)  # (T hop, 80 + 4A)
        fin = Finisher(wave_len, c.bits, c.mu_law, c.preemphasis, c.fade_out_frames * c.hop_length)
        report = (lambda done, total: progress(done / total, "vocoding")) if progress else None
        try:
            for _, y in self._fast.run(cond, self.plan(cond.shape[0]), seed, report, cancel):
                out = fin.push(y)
                if out.size:
                    yield out
                if fin.done:
                    break
        finally:
            self.last_step_time = self._fast.last_step_time
        if progress is not None:
            progress(1.0, "vocoding")

    def vocode(self, mel: np.ndarray, *, seed: int | None = None, progress: Progress | None = None,
               cancel: CancelCheck = None) -> np.ndarray:
        """mel: (80, T) in [-4, 4] -> (T - 1) * hop float32 samples at 16 kHz."""
        chunks = list(self.stream(mel, seed=seed, progress=progress, cancel=cancel))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def bf16_supported() -> bool:
    """True when oneDNN has native bf16 matmuls on this CPU (AVX-512 BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


