"""`sv2tts clone --voice REF --text TEXT -o OUT.wav`: say a text in the voice of a reference recording."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from toolbox.commands.argtypes import seed_type, within
from toolbox.console import status
from toolbox.cpu import add_threads_argument

log = logging.getLogger(__name__)

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
    p.add_argument("-o", "--output", required=True,
                   help="output .wav or .flac (16 kHz); '-': WAV on standard output")
    p.add_argument("--synthesizer", type=Path, help="synthesizer weights (.pt or .safetensors); "
                   "default: model store")
    p.add_argument("--vocoder", default=None, metavar="NAME|PATH",
                   help="'griffinlim', a model name ('vocoder': published WaveRNN, 'demo-vocoder': the bundled "
                        "iSTFT vocoder) or weights (.pt/.safetensors); default: the published WaveRNN when "
                        "downloaded, else the bundled vocoder")
    p.add_argument("--encoder", type=Path, help="encoder weights; default: model store")
    p.add_argument("--seed", type=seed_type, default=None, help="seed: the same seed gives the same audio")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "int8"],
                   help="synthesizer decoder weights at inference (auto: fastest exact-enough)")
    p.add_argument("--speed", type=within(0.25, 4.0), default=None,
                   help="speaking rate of the demo synthesizer, 0.25..4 (>1 faster; default 1)")
    p.add_argument("--pitch-shift", type=within(-12.0, 12.0), default=None, metavar="SEMITONES",
                   help="demo synthesizer: move the voice up or down, -12..12 semitones (the whole spectrum "
                   "moves, formants too: a higher or deeper voice)")
    p.add_argument("--voice-match", type=within(0.0, 1.0), default=None, metavar="STRENGTH",
                   help="demo synthesizer: how far each frame moves toward the reference recording's own "
                   "frames, 0..1 (default 0: off; 0.3 suggested: a closer voice from a clean reference of "
                   "several seconds, at the cost of some unclear words)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--play", action="store_true",
                   help="also play the audio on the default output device while it is generated")
    add_threads_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from toolbox.outputs import AUDIO_BYTES_PER_SECOND, AUDIO_FORMATS, prepare_output, write_audio

    text = read_text(args)
    estimate = int(AUDIO_BYTES_PER_SECOND * (2.0 + 0.2 * len(text)))  # ~15 characters/s, with slack
    # The destination is checked before torch loads: a refused output takes a fraction of a second.
    with prepare_output(args.output, tuple(AUDIO_FORMATS), args.force, estimate) as out:
        from models.audio import load_audio
        from models.pipeline import Pipeline, text_chunks
        from models.quality import warn_reference, warn_text
        from models.text import TextError
        from models.text.phones import PhonesError
        from models.vocoders import resolve_vocoder
        from toolbox.cli import UserError

        try:
            chunks = text_chunks(text)  # validate the text before loading any model
        except TextError as e:
            raise UserError(str(e)) from None
        warn_text(text)
        reference = load_audio(args.voice)  # a bad reference fails before any model is loaded
        warn_reference(reference, str(args.voice))
        encoder = load_encoder(args.encoder)
        synthesizer = load_synthesizer(args.synthesizer, args.precision)
        apply_controls(synthesizer, args.speed, args.pitch_shift, args.voice_match)
        vocoder = resolve_vocoder(args.vocoder)
        pipeline = Pipeline(encoder, synthesizer, vocoder)
        embedding = pipeline.embed(reference, source=str(args.voice))
        frames = pipeline.reference_frames(reference)

        bar = progress_bar(len(chunks))
        player = open_player() if args.play else None
        if args.play:  # stream sentence by sentence, and within a sentence as the vocoder finalizes audio
            progress = bar
            if player is not None:  # start playing once it can run to the end without a gap
                from toolbox.audio_io import StartGate

                gate = StartGate()
                player.hold(gate)
                progress = gate.progress if bar is None else _both(bar, gate.progress)
            audio = pipeline.stream(text, embedding, seed=args.seed, progress=progress, reference=frames)
            audio = play_through(audio, player) if player is not None else audio
        else:
            audio = pipeline.iter_sentences(text, embedding, seed=args.seed, progress=bar, reference=frames)
        try:
            seconds = write_audio(out, audio, vocoder.sample_rate) / vocoder.sample_rate
            if player is not None:
                player.finish()
                player.drain(timeout=player.pending_seconds + 5.0)
        except (TextError, PhonesError) as e:  # PhonesError: a demo model without predictor, no flite
            raise UserError(str(e)) from None
        finally:
            if bar is not None:
                bar.close()
            if player is not None:
                player.close()
    status(args, f"wrote {out.name}: {seconds:.2f} s of audio, {len(chunks)} sentence(s)")
    if args.play and player is None:
        status(args, f"no audio output device; wrote {out.name} only")
    return 0


def apply_controls(synthesizer, speed: float | None, pitch_shift: float | None,
                   voice_match: float | None = None) -> None:
    """Set the demo synthesizer's speaking rate, pitch shift and voice match (the published Tacotron
    has none of them)."""
    from toolbox.cli import UserError

    if speed is None and pitch_shift is None and voice_match is None:
        return
    if not hasattr(synthesizer, "pitch_shift"):
        raise UserError("--speed, --pitch-shift and --voice-match work with the demo synthesizer only "
                        "(pass --synthesizer pretrained/demo-synthesizer.safetensors)")
    if voice_match is not None:
        synthesizer.voice_match = voice_match
    if speed is not None:
        synthesizer.speed = speed
    if pitch_shift is not None:
        synthesizer.pitch_shift = pitch_shift


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
