"""`sv2tts vocode MEL.npy -o OUT.wav [--vocoder PATH|griffinlim] [--seed N]`: mel -> 16 kHz WAV."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from toolbox.commands.argtypes import seed_type
from toolbox.console import status
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
    p.add_argument("-o", "--output", required=True, metavar="OUT.wav",
                   help="output .wav (32-bit float) or .flac; '-': WAV on standard output")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--vocoder", default=None, metavar="NAME|PATH",
                   help="'griffinlim', a model name ('vocoder', 'demo-vocoder') or weights (.pt/.safetensors); "
                        "default: the published WaveRNN when downloaded, else the bundled vocoder")
    p.add_argument("--seed", type=seed_type, default=None, help="sampling seed (same seed, same audio)")
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

    if path.is_dir():
        raise UserError(f"{path}: is a directory, not a .npy mel")
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
    """--vocoder: None (the default vocoder), 'griffinlim', a model name or a weights path."""
    from models.vocoders import resolve_vocoder

    return resolve_vocoder(spec, precision=precision, schedule=schedule)


def run(args: argparse.Namespace) -> int:
    from toolbox.outputs import AUDIO_FORMATS, prepare_output, write_audio

    frames = _frames(args.mel)
    estimate = 4 * frames * 200 + 1024  # float32 samples, 200 per frame
    with prepare_output(args.output, tuple(AUDIO_FORMATS), args.force, estimate) as out:  # before torch loads
        from models.guard import check_finite

        mel = load_mel(args.mel)
        vocoder = make_vocoder(args.vocoder, args.precision, args.schedule)
        start = time.perf_counter()
        wav = vocoder.vocode(mel, seed=args.seed)
        elapsed = time.perf_counter() - start
        check_finite(wav, "audio", getattr(vocoder, "source", "the vocoder"))
        wav_out = out.path is None or out.path.suffix.lower() == ".wav"
        write_audio(out, [wav], vocoder.sample_rate, subtype="FLOAT" if wav_out else None)
    dur = len(wav) / vocoder.sample_rate
    status(args, f"wrote {out.name} ({dur:.2f} s at {vocoder.sample_rate} Hz) in {elapsed:.1f} s"
           + (f", real-time factor {elapsed / dur:.2f}" if dur else ""))
    return 0


def _frames(path: Path) -> int:
    """Frames of a (80, T) or (T, 80) .npy from its header only (0 when unreadable: load_mel says why)."""
    import numpy as np

    try:
        shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
    except (OSError, ValueError):
        return 0
    return max(shape) if len(shape) == 2 else 0
