"""`sv2tts vocode MEL.npy -o OUT.wav [--vocoder PATH|griffinlim] [--seed N]`: mel -> 16 kHz WAV."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from toolbox.console import is_std, status
from toolbox.cpu import add_threads_argument

log = logging.getLogger(__name__)
EXAMPLES = """examples:
  sv2tts vocode mel.npy -o out.wav
  sv2tts vocode mel.npy -o out.wav --vocoder griffinlim
  sv2tts vocode mel.npy -o - --seed 1 | aplay"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("vocode", help="turn a synthesizer mel (.npy, (80, T) in [-4, 4]) into a WAV",
                       epilog=EXAMPLES)
    p.add_argument("mel", type=Path, metavar="MEL.npy", help="(80, T) float32 log-mel on the [-4, 4] scale")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.wav",
                   help="the WAV file (32-bit float); '-': standard output")
    p.add_argument("--vocoder", default=None, metavar="PATH|griffinlim",
                   help="vocoder.pt / .safetensors weights, or 'griffinlim' (default: the published "
                        "vocoder from the model store)")
    p.add_argument("--seed", type=int, default=None, help="sampling seed (same seed, same audio)")
    p.add_argument("--precision", choices=["auto", "float32", "bf16"], default="auto",
                   help="WaveRNN matmul precision (default: bf16 when the CPU has native bf16)")
    p.add_argument("--schedule", choices=["stream", "published"], default="stream",
                   help="fold schedule: short first folds (stream) or the reference's 8000/800")
    add_threads_argument(p)
    p.set_defaults(func=run)


def load_mel(path: Path):
    """(80, T) float32 mel from a .npy file; UserError naming the file when it is not one."""
    import numpy as np

    from toolbox.cli import UserError

    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        mel = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise UserError(f"{path}: not a .npy array ({e})") from None
    if mel.ndim == 2 and mel.shape[1] == 80 and mel.shape[0] != 80:
        mel = mel.T  # (T, 80) as stored for training
    if mel.ndim != 2 or mel.shape[0] != 80:
        raise UserError(f"{path}: expected an (80, T) mel, got shape {mel.shape}")
    if mel.shape[1] < 2:
        raise UserError(f"{path}: the mel has {mel.shape[1]} frame(s); at least 2 are needed")
    mel = mel.astype(np.float32)
    if not np.all(np.isfinite(mel)):
        raise UserError(f"{path}: the mel contains NaN or infinite values")
    if mel.min() < -4.5 or mel.max() > 4.5:
        log.warning("%s: values outside [-4, 4] (%.2f..%.2f); is this the synthesizer's scale?",
                    path, mel.min(), mel.max())
    return mel


def make_vocoder(spec: str | None, precision: str = "auto", schedule: str = "stream"):
    """'griffinlim', a weights path, or None (the published vocoder from the model store)."""
    if spec is not None and spec.lower() in ("griffinlim", "griffin-lim", "gl"):
        from models.griffinlim import GriffinLim

        return GriffinLim()
    from models.vocoder import WaveRNNVocoder

    if spec is None:
        from models.store import ModelStore

        path = ModelStore().get("vocoder")
    else:
        path = Path(spec)
    return WaveRNNVocoder.from_file(path, precision=precision, schedule=schedule)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile as sf

    if is_std(args.output):
        from toolbox.console import check_stdout

        check_stdout()
    mel = load_mel(args.mel)
    vocoder = make_vocoder(args.vocoder, args.precision, args.schedule)
    start = time.perf_counter()
    wav = vocoder.vocode(mel, seed=args.seed)
    elapsed = time.perf_counter() - start
    if not np.all(np.isfinite(wav)):
        log.warning("the vocoder produced non-finite samples; replaced with 0")
        wav = np.nan_to_num(wav, nan=0.0, posinf=0.0, neginf=0.0)
    if is_std(args.output):
        from toolbox.console import write_wav_stdout

        write_wav_stdout([wav], vocoder.sample_rate, subtype="FLOAT")
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(args.output), np.clip(wav, -1.0, 1.0), vocoder.sample_rate, subtype="FLOAT")
    dur = len(wav) / vocoder.sample_rate
    status(args, f"wrote {'standard output' if is_std(args.output) else args.output} "
           f"({dur:.2f} s at {vocoder.sample_rate} Hz) in {elapsed:.1f} s"
           + (f", real-time factor {elapsed / dur:.2f}" if dur else ""))
    return 0
