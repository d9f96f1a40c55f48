"""`sv2tts clone --voice REF --text TEXT -o OUT.wav`: say a text in the voice of a reference recording."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from toolbox.console import is_std, status
from toolbox.cpu import add_threads_argument

log = logging.getLogger(__name__)

OUTPUT_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16")}
EXAMPLES = """examples:
  sv2tts clone --voice ref.flac --text "Nice to meet you." -o hello.wav
  sv2tts clone --voice ref.flac --text-file story.txt -o story.flac --seed 1 --play
  echo "Hello." | sv2tts clone --voice ref.flac --text-file - -o - > hello.wav
  sv2tts clone --voice ref.flac --text "Hi." -o hi.wav --vocoder griffinlim --threads 1"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clone", help="synthesize text in the voice of a reference recording", epilog=EXAMPLES)
    p.add_argument("--voice", type=Path, required=True, help="reference recording (wav, flac, mp3, ...)")
    text = p.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", help="the text to say")
    text.add_argument("--text-file", type=Path, help="a UTF-8 text file to say ('-': standard input)")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output .wav or .flac (16 kHz); '-': WAV on standard output")
    p.add_argument("--synthesizer", type=Path, help="synthesizer weights (.pt or .safetensors); "
                   "default: model store")
    p.add_argument("--vocoder", default=None, help="'griffinlim', a vocoder name from `sv2tts models list`, "
                   "or weights (.pt or .safetensors); default: the store's vocoder, else Griffin-Lim")
    p.add_argument("--encoder", type=Path, help="encoder weights; default: model store")
    p.add_argument("--seed", type=int, default=None, help="seed: the same seed gives the same audio")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "int8"],
                   help="synthesizer decoder weights at inference (auto: fastest exact-enough)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--play", action="store_true",
                   help="also play the audio on the default output device while it is generated")
    add_threads_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.audio import load_audio
    from models.pipeline import Pipeline, text_chunks
    from models.text import TextError
    from models.vocoders import resolve_vocoder
    from toolbox.cli import UserError

    out = check_output(args.output, args.force)
    text = read_text(args)
    try:
        chunks = text_chunks(text)  # validate the text before loading any model
    except TextError as e:
        raise UserError(str(e)) from None

    reference = load_audio(args.voice)  # a bad reference fails before any model is loaded
    encoder = load_encoder(args.encoder)
    synthesizer = load_synthesizer(args.synthesizer, args.precision)
    vocoder = resolve_vocoder(args.vocoder)
    pipeline = Pipeline(encoder, synthesizer, vocoder)
    embedding = pipeline.embed(reference)

    bar = progress_bar(len(chunks))
    player = open_player() if args.play else None
    if args.play:  # stream sentence by sentence, and within a sentence as the vocoder finalizes audio
        progress = bar
        if player is not None:  # start playing once it can run to the end without a gap
            from toolbox.audio_io import StartGate

            gate = StartGate()
            player.hold(gate)
            progress = gate.progress if bar is None else _both(bar, gate.progress)
        audio = pipeline.stream(text, embedding, seed=args.seed, progress=progress)
        audio = play_through(audio, player) if player is not None else audio
    else:
        audio = pipeline.iter_sentences(text, embedding, seed=args.seed, progress=bar)
    try:
        seconds = write_audio(out, audio, vocoder.sample_rate)
        if player is not None:
            player.finish()
            player.drain(timeout=player.pending_seconds + 5.0)
    except TextError as e:
        raise UserError(str(e)) from None
    finally:
        if bar is not None:
            bar.close()
        if player is not None:
            player.close()
    where = "standard output" if is_std(out) else out
    status(args, f"wrote {where}: {seconds:.2f} s of audio, {len(chunks)} sentence(s)")
    if args.play and player is None:
        status(args, f"no audio output device; wrote {where} only")
    return 0


def open_player():
    """An output stream on the default device, or None (logged) when there is no backend or device."""
    from models.audio import AudioError
    from toolbox.audio_io import default_backend

    try:
        backend = default_backend()
        if not backend.available:
            log.debug("no audio backend: %s", backend.reason)
            return None
        return backend.open_output(None)
    except (AudioError, OSError, RuntimeError) as e:  # also PortAudio errors on a broken device
        log.debug("no audio output: %s", e)
        return None


def _both(first, second):
    def report(fraction: float, message: str) -> None:
        first(fraction, message)
        second(fraction, message)

    return report


def play_through(chunks, player):
    """Queue each chunk for playback (blocking only while the ring buffer is full), then pass it on."""
    for chunk in chunks:
        player.write(chunk)
        yield chunk


def check_output(path: Path, force: bool) -> Path:
    from toolbox.cli import UserError
    from toolbox.console import check_stdout

    if is_std(path):
        check_stdout()
        return path
    if path.suffix.lower() not in OUTPUT_FORMATS:
        raise UserError(f"{path}: the output must end in {' or '.join(OUTPUT_FORMATS)}")
    if path.exists() and not force:
        raise UserError(f"{path} exists; use --force to overwrite it")
    if not path.parent.is_dir():
        raise UserError(f"{path.parent}: no such directory")
    return path


def read_text(args: argparse.Namespace) -> str:
    from toolbox.console import read_text

    return args.text if args.text is not None else read_text(args.text_file)


def load_encoder(path: Path | None):
    from models.encoder import SpeakerEncoder

    return SpeakerEncoder.from_file(path) if path else SpeakerEncoder.default()


def load_synthesizer(path: Path | None, precision: str):
    """PATH, else the published synthesizer when downloaded, else the bundled demo model."""
    from models.store import ModelStore
    from models.synthesizer import load_synthesizer

    return load_synthesizer(path or ModelStore().default("synthesizer"), precision=precision)


def write_audio(path: Path, chunks, sample_rate: int) -> float:
    """Write float chunks to `path` through a temporary file renamed at the end: a failure or an
    interruption leaves nothing behind; `-` writes WAV to standard output. Returns the duration in seconds."""
    import numpy as np
    import soundfile as sf

    if is_std(path):
        from toolbox.console import write_wav_stdout

        return write_wav_stdout(chunks, sample_rate)

    fmt, subtype = OUTPUT_FORMATS[path.suffix.lower()]
    tmp = path.with_name(f".{path.name}.part")
    n = 0
    try:
        with sf.SoundFile(str(tmp), "w", samplerate=sample_rate, channels=1, format=fmt,
                          subtype=subtype) as f:
            for chunk in chunks:
                f.write(np.clip(chunk, -1.0, 1.0).astype(np.float32, copy=False))
                n += len(chunk)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return n / sample_rate


def progress_bar(n_chunks: int):
    """A tqdm bar on stderr (percent) for texts of several chunks; returns a progress callback or None."""
    if n_chunks < 2:
        return None
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", desc="cloning", file=sys.stderr,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]")

    class Callback:
        def __call__(self, fraction: float, message: str) -> None:
            bar.update(max(0, round(100 * fraction) - bar.n))
            bar.set_postfix_str(message, refresh=False)

        def close(self) -> None:
            bar.close()

    return Callback()
