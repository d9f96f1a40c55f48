"""The speaker encoder façade: load weights, preprocess audio, embed utterances in batches."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from models import audio
from models.checkpoint import build_checked, load_strict, read_weights, save_safetensors
from models.encoder.config import EncoderConfig
from models.encoder.model import SpeakerEncoderNet
from models.encoder.partials import pad_for_partials, partial_slices
from models.guard import check_embedding

log = logging.getLogger(__name__)

KIND = "encoder"
Progress = Callable[[int, int], None]  # (done, total)


class SpeakerEncoder:
    """Embeds speech into 256-d unit-norm speaker vectors, as the published toolbox does.

    Several instances may coexist; each owns its network. Use `from_file` or `default`.
    """

    def __init__(self, net: SpeakerEncoderNet, batch_partials: int = 256,
                 source: str = "the speaker encoder") -> None:
        self.net = net.eval()
        self.config = net.config
        self.batch_partials = batch_partials
        self.source = source  # the weights file, named when its output is not finite

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path, device: str | torch.device = "cpu") -> SpeakerEncoder:
        """Load the published ``encoder.pt`` layout or our ``.safetensors`` format.

        Raises:
            CheckpointError: the file is missing, not weights, refuses to load safely, or has
                another layout.
        """
        path = Path(path)
        state, config, ckpt = read_weights(path, KIND, EncoderConfig, EncoderConfig.rtvc())
        log.info("loaded encoder %s (trained %s steps)", path.name, ckpt.get("step", "?"))
        net = build_checked(SpeakerEncoderNet, config, state, path, "speaker encoder")
        load_strict(net, state, path, "speaker encoder")
        return cls(net.to(device), source=str(path))

    @classmethod
    def default(cls, device: str | torch.device = "cpu") -> SpeakerEncoder:
        """The published encoder from the model store: the downloaded encoder.pt when present, else the
        bundled safetensors copy of the same weights (raises with instructions when neither is there)."""
        from models.store import ModelStore

        return cls.from_file(ModelStore().default(KIND), device)

    def save(self, path: str | Path) -> Path:
        """Write the weights and config as our safetensors format."""
        return save_safetensors(path, self.net.state_dict(), KIND, self.config)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    # -- inference ---------------------------------------------------------------------------------
    def preprocess(self, wav: np.ndarray, source: str = "audio") -> np.ndarray:
        """Volume-normalise and VAD-trim 16 kHz audio (raises AudioError on silence)."""
        return audio.preprocess_for_encoder(wav, source)

    def partial_mels(self, wav: np.ndarray) -> np.ndarray:
        """Preprocessed 16 kHz audio -> (P, 160, 40) power mels of its partial utterances."""
        wav_slices, mel_slices = partial_slices(len(wav), self.config)
        mel = audio.encoder_mel(pad_for_partials(wav, wav_slices))  # (T, 40)
        return np.stack([mel[s] for s in mel_slices])

    def embed_partials(self, mels: np.ndarray) -> np.ndarray:
        """(P, 160, 40) -> (P, 256) unit-norm partial embeddings, in batches of `batch_partials`."""
        out = np.empty((len(mels), self.config.embedding_size), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(mels), self.batch_partials):
                chunk = torch.from_numpy(mels[start:start + self.batch_partials]).to(self.device)
                out[start:start + len(chunk)] = self.net(chunk).cpu().numpy()
        return out

    def embed_utterance(self, wav: np.ndarray, preprocess: bool = True, source: str = "audio") -> np.ndarray:
        """16 kHz mono audio -> (256,) float32 unit-norm utterance embedding."""
        return self.embed_utterances([wav], preprocess=preprocess, sources=[source])[0]

    def embed_utterances(self, wavs: Sequence[np.ndarray], preprocess: bool = True,
                         sources: Sequence[str] | None = None,
                         progress: Progress | None = None) -> np.ndarray:
        """Embed many utterances, batching their partials together across utterances.

        Each utterance embedding is the re-normalised mean of its partial embeddings.
        Returns: (N, 256) float32, one unit-norm row per input, in order.
        """
        sources = list(sources) if sources is not None else [f"utterance {i}" for i in range(len(wavs))]
        out = np.empty((len(wavs), self.config.embedding_size), dtype=np.float32)
        pending: list[np.ndarray] = []
        owners: list[int] = []
        counts: dict[int, int] = {}

        def flush() -> None:
            if not pending:
                return
            parts = self.embed_partials(np.concatenate(pending))
            offset = 0
            for i in dict.fromkeys(owners):
                n = counts[i]
                mean = parts[offset:offset + n].mean(axis=0)
                check_embedding(mean, self.source, sources[i])  # damaged weights: NaN or zero
                out[i] = mean / np.linalg.norm(mean)
                offset += n
            pending.clear()
            owners.clear()

        queued = 0
        for i, wav in enumerate(wavs):
            if preprocess:
                wav = self.preprocess(wav, sources[i])
            mels = self.partial_mels(wav)
            pending.append(mels)
            owners.append(i)
            counts[i] = len(mels)
            queued += len(mels)
            if queued >= self.batch_partials:
                flush()
                queued = 0
            if progress:
                progress(i + 1, len(wavs))
        flush()
        return out

    def embed_files(self, paths: Sequence[str | Path], progress: Progress | None = None) -> np.ndarray:
        """Load and embed audio files. Returns (N, 256); raises AudioError naming a bad file."""
        return self.embed_utterances([audio.load_audio(p) for p in paths],
                                     sources=[str(p) for p in paths], progress=progress)

