"""The iSTFT vocoder behind the project's ``Vocoder`` protocol: whole or streamed, cancellable.

Streaming cuts the output into sample ranges [a * hop, b * hop) of growing length (short first chunk
for low latency). Each range is computed from the mel frames around it: the network's receptive field
(``config.context`` frames) on each side, and the overlap-add of every STFT frame that covers a sample
of the range. So the joined chunks equal the one-shot output up to float rounding (no cross-fade).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from models.checkpoint import CheckpointError, config_from_dict, load_safetensors, load_strict, save_safetensors
from models.vocoder.fast import CancelCheck, is_cancelled
from models.vocoder.istft import KIND, IstftConfig, IstftNet, overlap_add_frames, spectrum
from models.vocoding import Cancelled, Progress, check_mel

log = logging.getLogger(__name__)



class IstftVocoder:
    """mel (80, T) in [-4, 4] -> (T - 1) * hop float32 samples at 16 kHz.

    Args:
        net: the network (kept in eval mode on the CPU).
        first_chunk: frames in the first streamed chunk (12.5 ms each); each later chunk is 4x the
            previous one, at most `max_chunk` frames (each chunk also computes ~2 x 30 frames of
            context, so few large chunks cost least).
        name: what error messages call this model (its file name).
    """

    def __init__(self, net: IstftNet, first_chunk: int = 16, max_chunk: int = 512, name: str = "iSTFT vocoder"
                 ) -> None:
        if not 1 <= first_chunk <= max_chunk:
            raise ValueError(f"need 1 <= first_chunk <= max_chunk, got {first_chunk}, {max_chunk}")
        self.net = net.eval()
        self.config: IstftConfig = net.config
        self.sample_rate = net.config.sample_rate
        self.first_chunk, self.max_chunk = first_chunk, max_chunk
        self.name = name
        self.synthesized_mel_contrast = net.config.synthesized_mel_contrast

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> IstftVocoder:
        """Load our ``.safetensors`` (kind "istft-vocoder", config in the header).

        Raises:
            CheckpointError: missing/corrupt file, another kind of model, or weights of another layout.
        """
        path = Path(path)
        state, config_dict, meta = load_safetensors(path, KIND)
        try:
            config = config_from_dict(IstftConfig, config_dict)
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: invalid iSTFT vocoder config ({e})") from None
        net = IstftNet(config)
        load_strict(net, state, path, "iSTFT vocoder")
        log.info("loaded iSTFT vocoder %s (step %s)", path.name, meta.get("step", "?"))
        return cls(net, name=path.name, **kwargs)

    def save(self, path: str | Path, extra: dict[str, str] | None = None) -> Path:
        return save_safetensors(path, self.net.state_dict(), KIND, self.config, extra)

    # -- generation --------------------------------------------------------------------------------
    def chunks(self, n_frames: int) -> list[tuple[int, int]]:
        """Output ranges in frames: [(a, b)] covering [0, n_frames - 1), growing from `first_chunk`."""
        ranges, a, size = [], 0, self.first_chunk
        while a < n_frames - 1:
            b = min(n_frames - 1, a + size)
            ranges.append((a, b))
            a, size = b, min(self.max_chunk, size * 4)
        return ranges

    @torch.inference_mode()
    def _range(self, mel: torch.Tensor, a: int, b: int) -> np.ndarray:
        """Samples [a * hop, b * hop) of the utterance whose mel is `mel` (80, T)."""
        c, n_frames = self.config, mel.shape[1]
        half = c.n_fft // 2
        reach = half // c.hop + 1  # STFT frames on each side that overlap the range
        lo, hi = max(0, a - reach), min(n_frames, b + reach + 1)  # the STFT frames we need
        m0, m1 = max(0, lo - c.context), min(n_frames, hi + c.context)  # the mel they depend on
        log_mag, phase = self.net(mel[None, :, m0:m1])
        spec = spectrum(log_mag[..., lo - m0:hi - m0], phase[..., lo - m0:hi - m0])
        audio, envelope = overlap_add_frames(spec, self.net.window, c.hop)
        start = a * c.hop - (lo * c.hop - half)  # index of sample a * hop in `audio`
        out = audio[0, start:start + (b - a) * c.hop] / envelope[start:start + (b - a) * c.hop]
        return out.clamp(-1.0, 1.0).numpy()

    def stream(self, mel: np.ndarray, *, seed: int | None = None, progress: Progress | None = None,
               cancel: CancelCheck = None) -> Iterator[np.ndarray]:
        """Yield float32 chunks in time order; together (T - 1) * hop samples.

        `seed` is accepted for the protocol (this vocoder is deterministic). `cancel` is checked
        before every chunk (a few ms of work each) and raises Cancelled.
        """
        x = torch.from_numpy(check_mel(mel, self.config.n_mels))
        ranges = self.chunks(x.shape[1])
        for a, b in ranges:
            if is_cancelled(cancel):
                raise Cancelled("vocoding cancelled")
            out = self._range(x, a, b)
            if not np.all(np.isfinite(out)):
                raise CheckpointError(f"{self.name}: the vocoder produced NaN/inf samples; the model file "
                                      "is damaged: download or import it again")
            if progress is not None:
                progress(b / ranges[-1][1], "vocoding")
            yield out

    def vocode(self, mel: np.ndarray, *, seed: int | None = None, progress: Progress | None = None,
               cancel: CancelCheck = None) -> np.ndarray:
        """mel: (80, T) in [-4, 4] -> (T - 1) * hop float32 samples."""
        chunks = list(self.stream(mel, seed=seed, progress=progress, cancel=cancel))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


