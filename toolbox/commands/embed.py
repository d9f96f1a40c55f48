"""`sv2tts embed AUDIO... -o OUT.npy`: speaker embeddings of audio files, one row per file."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from toolbox.console import status
from toolbox.cpu import add_threads_argument

log = logging.getLogger(__name__)
EXAMPLES = """examples:
  sv2tts embed ref.wav -o ref.npy
  sv2tts embed speakers/*.flac -o embeds.npy --force
  python -c "import numpy; e = numpy.load('embeds.npy'); print(e @ e.T)"   # cosine similarities"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="compute speaker embeddings of audio files", epilog=EXAMPLES)
    p.add_argument("audio", nargs="+", type=Path, help="audio files (wav, flac, mp3, ogg, m4a)")
    p.add_argument("-o", "--output", required=True, help="output .npy, float32 (N, 256)")
    p.add_argument("--encoder", type=Path, help="encoder weights (.pt or .safetensors); default: model store")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    add_threads_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from toolbox.outputs import prepare_output

    size = 256 * 4 * len(args.audio) + 128  # float32 rows + the .npy header
    with prepare_output(args.output, (".npy",), args.force, size) as out:  # checked before torch loads
        import numpy as np

        from models import audio
        from models.encoder import SpeakerEncoder
        from models.quality import warn_reference

        wavs = []
        for path in args.audio:  # every file is read before any model is loaded: a bad one fails fast
            wavs.append(audio.load_audio(path))
            warn_reference(wavs[-1], str(path))
        encoder = SpeakerEncoder.from_file(args.encoder) if args.encoder else SpeakerEncoder.default()
        bar = _progress(len(args.audio))
        embeds = encoder.embed_utterances(wavs, sources=[str(p) for p in args.audio],
                                          progress=lambda done, total: bar.update(1) if bar else None)
        if bar:
            bar.close()
        if embeds.shape != (len(args.audio), encoder.config.embedding_size):
            raise RuntimeError(f"embeddings of shape {embeds.shape} for {len(args.audio)} files")
        with open(out.tmp, "wb") as f:
            np.save(f, embeds.astype(np.float32))
    status(args, f"wrote {out.name}: {embeds.shape[0]} embeddings of {embeds.shape[1]} dims")
    return 0


def _progress(total: int):
    if total < 4:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="file", desc="embedding", file=sys.stderr)
