"""Predicted naturalness (MOS) of 16 kHz speech: DNSMOS P.808 and P.835 SIG/BAK/OVRL (the `eval` extra).

DNSMOS (Reddy et al. 2021/2022) is a set of non-intrusive ONNX models from Microsoft's DNS Challenge;
the `speechmos` wheel ships them and runs them with onnxruntime. They take 16 kHz float audio in
[-1, 1] at its own level (the official script reads files with soundfile and does not normalise),
score 9.01 s windows hopped by 1 s and average them. Clips shorter than one window are repeated
cyclically to exactly one window here; the official script doubles them until they are long enough
and then scores every 1 s hop of the repetition, i.e. shifted copies of the same content, at up to
9x the cost (about 1 s per window on this CPU); on four test-other clips of 4-8 s the two ways
differ by at most 0.05 in P.808 and OVRL.
P.808 predicts the overall ITU-T P.808 MOS; P.835 predicts speech signal quality (SIG), background
noise (BAK) and overall quality (OVRL), each on 1..5.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from models.audio import SAMPLE_RATE

log = logging.getLogger(__name__)

MOS_KEYS = ("p808", "sig", "bak", "ovrl")


class MosUnavailable(RuntimeError):
    """speechmos / onnxruntime are not installed."""


@dataclass(frozen=True)
class MosScores:
    """DNSMOS predictions on 1..5: P.808 overall, and P.835 signal, background and overall."""

    p808: float
    sig: float
    bak: float
    ovrl: float

    def rounded(self, digits: int = 3) -> dict[str, float]:
        return {k: round(v, digits) for k, v in asdict(self).items()}


class Dnsmos:
    """The DNSMOS P.808 and P.835 models in one onnxruntime session each; reusable across clips."""

    sample_rate = SAMPLE_RATE

    def __init__(self) -> None:
        try:
            import speechmos.dnsmos as impl  # also imports onnxruntime
        except ImportError as e:
            raise MosUnavailable(f"predicted MOS needs speechmos and onnxruntime ({e.name} is missing): "
                                 "pip install -c constraints.txt -e '.[eval]'") from None
        import onnxruntime as ort

        class OneThreadDnsmos(impl.DNSMOS):
            """The wheel's scorer on one non-spinning onnxruntime thread each (a shared, busy CPU)."""

            def __init__(self, primary: Path, p808: Path) -> None:
                options = ort.SessionOptions()
                options.intra_op_num_threads = options.inter_op_num_threads = 1
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                providers = ["CPUExecutionProvider"]
                self.primary_model_path = str(primary)
                self.onnx_sess = ort.InferenceSession(str(primary), options, providers=providers)
                self.p808_onnx_sess = ort.InferenceSession(str(p808), options, providers=providers)

        models = Path(impl.__file__).parent / "dnsmos_models"
        self._model = OneThreadDnsmos(models / "sig_bak_ovr.onnx", models / "model_v8.onnx")
        self._window = int(impl.INPUT_LENGTH * self.sample_rate)

    def score(self, wav: np.ndarray) -> MosScores:
        """wav: (L,) float audio at 16 kHz, at least 0.1 s (clipped to [-1, 1]). Returns MosScores."""
        wav = np.asarray(wav, dtype=np.float32)
        if wav.ndim != 1 or len(wav) < self.sample_rate // 10:
            raise ValueError(f"DNSMOS needs mono audio of at least 0.1 s, got shape {wav.shape}")
        if not np.all(np.isfinite(wav)):
            raise ValueError("DNSMOS: the audio contains NaN or infinite samples")
        if len(wav) < self._window:
            wav = np.resize(wav, self._window)  # cyclic repetition to one window
        out = self._model(np.clip(wav, -1.0, 1.0), self.sample_rate, False)
        return MosScores(p808=float(out["p808_mos"]), sig=float(out["sig_mos"]), bak=float(out["bak_mos"]),
                         ovrl=float(out["ovrl_mos"]))


def mean_scores(scores: list[MosScores], digits: int = 3) -> dict[str, float]:
    """Mean of each DNSMOS score over clips ({} when there are none)."""
    if not scores:
        return {}
    return {k: round(float(np.mean([getattr(s, k) for s in scores])), digits) for k in MOS_KEYS}
