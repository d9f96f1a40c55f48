"""`sv2tts preprocess {encoder,synthesizer,phones,gta,variance} DATA_ROOT OUT_DIR --dataset NAME`: training data."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from toolbox.cpu import add_threads_argument

log = logging.getLogger(__name__)

EXAMPLES = """examples:
  sv2tts preprocess synthesizer LibriSpeech/train-clean-100 data/synth --dataset librispeech --jobs 2
  sv2tts preprocess encoder VoxCeleb1 data/encoder --dataset voxceleb --shard 0/4
  sv2tts preprocess phones data/synthetic data/phones
  sv2tts preprocess gta data/phones data/gta --audio-root data/synthetic
  sv2tts preprocess variance data/phones data/phones --audio-root data/synthetic --audio-root LibriSpeech"""
DATASETS = ("generic", "librispeech", "libritts", "vctk", "ljspeech", "voxceleb")  # = models.data.datasets


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "preprocess", help="turn a speech dataset into encoder or synthesizer training data",
        description="encoder: OUT_DIR/<dataset>_<speaker>/<utt>.npy (T, 40) mels + _sources.txt. "
        "synthesizer: OUT_DIR/{audio,mels,embeds}/*.npy + train.txt. Every utterance kept or dropped "
        "(and why) is logged in OUT_DIR/preprocess_log*.jsonl. phones (the duration-based demo synthesizer): "
        "DATA_ROOT is a `sv2tts corpus` folder (flite timings) or any folder of real speech (aligned by "
        "pocketsphinx, to its .txt transcripts or to what it recognises); run it once per source into the same "
        "OUT_DIR: items/*.npz + metadata.jsonl, dropped items in log.jsonl. gta (vocoder fine-tuning): DATA_ROOT "
        "is phones data; the demo synthesizer predicts each item's mel from its own phones and durations, "
        "saved with the audio found under --audio-root. variance (pitch and energy predictors): DATA_ROOT is phones "
        "data, changed in place (OUT_DIR must be the same folder): each item gets the mean F0 and mel level of "
        "every phone, from its recording under --audio-root.", epilog=EXAMPLES)
    p.add_argument("kind", choices=("encoder", "synthesizer", "phones", "gta", "variance"))
    p.add_argument("data_root", type=Path, help="the dataset folder")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--dataset", choices=DATASETS, default="generic",
                   help="layout of DATA_ROOT (default generic: <speaker>/<utt>.wav + <utt>.txt)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--shard", default="0/1", metavar="I/N",
                   help="process only shard I of N (0 <= I < N), split by a stable hash of the utterance id")
    p.add_argument("--skip-existing", action="store_true",
                   help="resume: skip utterances a previous run finished (kept with its files, or dropped)")
    p.add_argument("--encoder", type=Path,
                   help="synthesizer, phones: speaker encoder weights for the embeddings (default: model store)")
    p.add_argument("--exclude-speakers", nargs="+", default=[], metavar="ID",
                   help="phones, real speech: leave these speakers out (e.g. the ones held out for evaluation)")
    p.add_argument("--audio-root", type=Path, action="append", default=[], metavar="DIR",
                   help="gta, variance: where the items' audio files are (<id>.wav/.flac, searched recursively; "
                   "repeatable)")
    p.add_argument("--synthesizer", type=Path, help="gta: demo synthesizer weights (default: model store)")
    add_threads_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.data.items import DatasetError
    from models.data.preprocess import Shard, preprocess
    from toolbox.cli import UserError

    try:
        shard = Shard.parse(args.shard)
    except ValueError as e:
        raise UserError(str(e)) from None
    if args.kind == "variance":
        return run_variance(args)
    if args.out_dir.resolve() == args.data_root.resolve():
        raise UserError("OUT_DIR must differ from DATA_ROOT")
    if args.kind == "phones":
        return run_phones(args)
    if args.kind == "gta":
        return run_gta(args)
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=total, unit="utt", desc=f"preprocess {args.kind}", file=sys.stderr)
        if bar is not None:
            bar.update(1)

    try:
        counts = preprocess(args.kind, args.data_root, args.out_dir, args.dataset, jobs=args.jobs, shard=shard,
                            skip_existing=args.skip_existing, encoder_path_=args.encoder, progress=progress)
    except DatasetError as e:
        raise UserError(str(e)) from None
    finally:
        if bar is not None:
            bar.close()
    reasons = ", ".join(f"{k[9:]} {v}" for k, v in sorted(counts.items()) if k.startswith("dropped: "))
    print(f"{args.out_dir}: kept {counts['kept']}, dropped {counts['dropped']}"
          f"{f' ({reasons})' if reasons else ''}, skipped {counts['skipped']} finished earlier", file=sys.stderr)
    return 0


def run_phones(args: argparse.Namespace) -> int:
    from models.asr import RecognizerUnavailable
    from models.data.phone_data import build_phone_data, real_sources, synthetic_sources
    from toolbox.cli import UserError
    from toolbox.commands.clone import load_encoder

    if not args.data_root.is_dir():
        raise UserError(f"{args.data_root}: no such folder")
    synthetic = (args.data_root / "speakers.json").is_file()
    sources = (synthetic_sources(args.data_root) if synthetic
               else real_sources(args.data_root, args.exclude_speakers))
    if not sources:
        raise UserError(f"{args.data_root}: no {'utterances with .phones.json' if synthetic else 'audio files'}")
    if not synthetic:
        try:
            from models.data.align import Aligner

            Aligner()
        except RecognizerUnavailable as e:
            raise UserError(str(e)) from None
    encoder = load_encoder(args.encoder)
    from tqdm import tqdm

    with tqdm(unit="utt", desc="preprocess phones", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total  # the utterances still to do
            bar.update(1)

        counts = build_phone_data(sources, args.out_dir, encoder.embed_files, jobs=args.jobs, progress=progress)
    print(f"{args.out_dir}: kept {counts['kept']}, dropped {counts['dropped']} (see log.jsonl), "
          f"skipped {counts['skipped']} finished earlier", file=sys.stderr)
    return 0


def run_gta(args: argparse.Namespace) -> int:
    from models.data.gta import build_gta_data
    from models.store import ModelStore
    from toolbox.cli import UserError

    if not args.audio_root:
        raise UserError("gta needs --audio-root DIR (where the phone data's recordings are)")
    synthesizer = args.synthesizer or ModelStore().get("demo-synthesizer")
    try:
        n = build_gta_data(args.data_root, args.audio_root, synthesizer, args.out_dir)
    except ValueError as e:
        raise UserError(str(e)) from None
    print(f"{args.out_dir}: {n} synthesizer-aligned items", file=sys.stderr)
    return 0


def run_variance(args: argparse.Namespace) -> int:
    from models.data.variance import add_variance
    from models.pitch import PitchUnavailable
    from toolbox.cli import UserError

    if args.out_dir.resolve() != args.data_root.resolve():
        raise UserError("variance adds to the phone data in place: give the same folder as DATA_ROOT and OUT_DIR")
    if not args.audio_root:
        raise UserError("variance needs --audio-root DIR (where the phone data's recordings are)")
    from tqdm import tqdm

    with tqdm(unit="utt", desc="preprocess variance", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(1)

        try:
            counts = add_variance(args.data_root, args.audio_root, progress)
        except (ValueError, PitchUnavailable) as e:
            raise UserError(str(e)) from None
    print(f"{args.data_root}: pitch and energy added to {counts['done']} items, {counts['skipped']} had them, "
          f"{counts['missing']} without a recording", file=sys.stderr)
    return 0 if counts["done"] + counts["skipped"] else 1
