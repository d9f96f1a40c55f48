"""Encoder throughput: batched embedding vs one utterance at a time with the published algorithm."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared/data/librispeech/train-clean-100"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--encoder", type=Path, help="encoder weights; default: the published one from the store")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help="folder of speech files; each file is cut in two halves (default: shared LibriSpeech)")
    p.add_argument("--limit", type=int, default=0, help="use only the first N files (0 = all)")


def run(args: argparse.Namespace) -> dict:
    import soundfile as sf

    from models.encoder import SpeakerEncoder
    from models.encoder.reference import reference_embed
    from toolbox.cli import UserError

    files = sorted(p for p in args.data.rglob("*") if p.suffix in (".flac", ".wav"))
    if args.limit:
        files = files[: args.limit]
    if not files:
        raise UserError(f"no .flac or .wav files under {args.data}")
    encoder = SpeakerEncoder.from_file(args.encoder) if args.encoder else SpeakerEncoder.default()
    wavs = []
    for f in files:
        w = sf.read(f, dtype="float32")[0]
        wavs += [w[: len(w) // 2], w[len(w) // 2:]]
    seconds = sum(len(w) for w in wavs) / 16_000

    start = time.perf_counter()
    naive = np.stack([reference_embed(encoder.net, w) for w in wavs])
    naive_s = time.perf_counter() - start
    start = time.perf_counter()
    fast = encoder.embed_utterances(wavs)
    fast_s = time.perf_counter() - start
    cos = np.sum(naive * fast, axis=1)
    return {
        "utterances": len(wavs),
        "audio_seconds": round(seconds, 1),
        "batched_s": round(fast_s, 3),
        "batched_x_realtime": round(seconds / fast_s, 1),
        "naive_s": round(naive_s, 3),
        "naive_x_realtime": round(seconds / naive_s, 1),
        "speedup": round(naive_s / fast_s, 2),
        "min_cosine_vs_naive": round(float(cos.min()), 7),
    }
