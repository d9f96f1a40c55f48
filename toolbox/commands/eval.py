"""`sv2tts eval`: measure voice cloning or a vocoder, as JSON.

* `sv2tts eval --voices REF... [--sentences FILE]` clones every sentence in every voice and reports,
  per vocoder, word error rate (offline recognizer), speaker similarity to the reference, speaker-
  verification EER, predicted MOS (DNSMOS P.808 and P.835) and the pitch difference to the reference.
  With `--real-baseline`, also what real speech scores: the similarity to each reference of the same
  reader's other recordings (the other audio files in the reference's folder), each cut to the clones'
  mean length around its middle. Similarity grows with length, so this is the bar to read clones against.
* `sv2tts eval --resynth [--voices REF...] [--limit N]` vocodes the references' own real mels with each
  vocoder (no synthesizer: the vocoder's ceiling) and reports similarity, MOS and pitch against the
  originals. Default references: the 100 LibriSpeech test-other utterances of ../shared.

`--vocoder` may be repeated to measure several vocoders in one run (e.g. `--vocoder griffinlim
--vocoder new.safetensors`); each choice is resolved as `sv2tts clone` does (models.vocoders).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path

from toolbox.commands.argtypes import within
from toolbox.cpu import add_threads_argument

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing numpy at start-up (sv2tts --help)
if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)
EXAMPLES = """examples:
  sv2tts eval --voices refs/ --no-asr
  sv2tts eval --voices a.flac b.flac --sentences assets/eval_sentences.txt -o report.json
  sv2tts eval --voices reader1/first.flac reader2/first.flac --real-baseline
  sv2tts eval --resynth --limit 30 --vocoder griffinlim --vocoder vocoder --threads 1"""

DEFAULT_SENTENCES = [
    "The little boat drifted slowly toward the quiet harbor.",
    "Please bring the green folder to the meeting tomorrow morning.",
    "She found seven old coins buried under the garden wall.",
    "A cold wind blew across the open field all night.",
]
DEFAULT_RESYNTH_SET = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "librispeech" / "test-other"
MIN_COMPARABLE = 30  # fewer utterances than this: a warning that the means are noisy


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="clone voices (or --resynth real mels) and report WER, similarity, EER, "
                                    "MOS and pitch (JSON)", epilog=EXAMPLES)
    p.add_argument("--voices", nargs="+", type=Path,
                   help="reference audio files or folders (required unless --resynth; one voice per folder "
                        f"with --resynth, default {DEFAULT_RESYNTH_SET})")
    p.add_argument("--resynth", action="store_true",
                   help="vocode the references' own mels and compare with the originals (no synthesizer)")
    p.add_argument("--limit", type=int, metavar="N",
                   help="use N of the references, taken in turn from each voice (>= 30 recommended)")
    p.add_argument("--sentences", type=Path, help="UTF-8 text file, one sentence per line (default: built in)")
    p.add_argument("--synthesizer", type=Path, help="synthesizer weights (default: model store)")
    p.add_argument("--vocoder", action="append", metavar="NAME|PATH",
                   help="'griffinlim', a vocoder name from `sv2tts models list` or weights; repeat to compare "
                        "several in one run (default: the store's vocoder, else Griffin-Lim)")
    p.add_argument("--encoder", type=Path, help="encoder weights for embedding and similarity (default: published)")
    p.add_argument("--voice-match", type=within(0.0, 1.0), default=None, metavar="STRENGTH",
                   help="demo synthesizer's voice match, 0..1 (default 0: off; see `clone --voice-match`)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-asr", action="store_true", help="skip speech recognition (no WER)")
    p.add_argument("--no-mos", action="store_true", help="skip predicted MOS (DNSMOS)")
    p.add_argument("--no-pitch", action="store_true", help="skip the pitch comparison")
    p.add_argument("--real-baseline", action="store_true",
                   help="also compare each reference with the other recordings in its folder (the same reader), "
                        "cut to the clones' mean length")
    p.add_argument("-o", "--output", type=Path, help="also write the JSON report here")
    add_threads_argument(p)
    p.set_defaults(func=run)


def voice_files(paths: list[Path]) -> list[Path]:
    from models.audio import AUDIO_SUFFIXES

    files = []
    for p in paths:
        files += sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES) if p.is_dir() else [p]
    return files


def take_in_turn(files: list[Path], limit: int | None) -> list[Path]:
    """The first `limit` files taking one from each voice (parent folder) in turn; all when None."""
    if limit is None or limit >= len(files):
        return files
    by_voice: dict[Path, list[Path]] = defaultdict(list)
    for f in files:
        by_voice[f.parent].append(f)
    queues = list(by_voice.values())
    chosen: list[Path] = []
    for i in range(max(map(len, queues))):
        chosen += [q[i] for q in queues if i < len(q)]
    return sorted(chosen[:limit], key=files.index)


def run(args: argparse.Namespace) -> int:
    from models.encoder import SpeakerEncoder
    from models.vocoders import resolve_vocoder, vocoder_label
    from toolbox.cli import UserError

    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1 (got {args.limit})")
    if args.voices is None and not args.resynth:
        raise UserError("--voices is required (reference audio files or folders), except with --resynth")
    if args.voices is None and not DEFAULT_RESYNTH_SET.is_dir():
        raise UserError(f"no default references at {DEFAULT_RESYNTH_SET}; pass --voices FILES_OR_FOLDERS")
    voices = take_in_turn(voice_files(args.voices or [DEFAULT_RESYNTH_SET]), args.limit)
    if not voices:
        raise UserError("no reference audio found in --voices")
    if args.resynth and len(voices) < MIN_COMPARABLE:
        log.warning("%d utterances: means over fewer than %d are noisy", len(voices), MIN_COMPARABLE)
    mos = _mos(args.no_mos)
    if not args.no_pitch:
        _check_pitch()
    choices = args.vocoder or [None]
    vocoders = {}
    for choice in choices:
        vocoder = resolve_vocoder(choice)
        vocoders[vocoder_label(choice, vocoder)] = vocoder
    encoder = SpeakerEncoder.from_file(args.encoder) if args.encoder else SpeakerEncoder.default()
    if args.resynth:
        report = _resynth(voices, vocoders, encoder, mos, args)
    else:
        report = _clones(voices, vocoders, encoder, mos, args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text)
    return 0


def _mos(skip: bool):
    if skip:
        return None
    from models.naturalness import Dnsmos, MosUnavailable
    from toolbox.cli import UserError

    try:
        return Dnsmos()
    except MosUnavailable as e:
        raise UserError(f"{e} (or pass --no-mos)") from None


def _check_pitch() -> None:
    import numpy as np

    from models.pitch import PitchUnavailable, voiced_f0
    from toolbox.cli import UserError

    try:
        voiced_f0(np.zeros(1600, dtype=np.float32))
    except PitchUnavailable as e:
        raise UserError(f"{e} (or pass --no-pitch)") from None


def _resynth(files: list[Path], vocoders: dict, encoder, mos, args: argparse.Namespace) -> dict:
    from models.resynthesis import evaluate, prepare_reference

    references = []
    for i, path in enumerate(files):
        print(f"eval: preparing {i + 1}/{len(files)} {path.name}", file=sys.stderr)
        references.append(prepare_reference(path))
    report = evaluate(references, vocoders, encoder, mos=mos, pitch=not args.no_pitch, seed=args.seed,
                      progress=lambda message: print(f"eval: {message}", file=sys.stderr))
    return {"encoder": str(args.encoder or "default"), **report}


def _clones(voices: list[Path], vocoders: dict, encoder, mos, args: argparse.Namespace) -> dict:
    from models.asr import Recognizer, RecognizerUnavailable
    from models.audio import load_audio
    from models.pipeline import Pipeline
    from models.store import ModelStore
    from toolbox.cli import UserError
    from toolbox.commands.clone import apply_controls, load_synthesizer

    sentences = DEFAULT_SENTENCES
    if args.sentences:
        sentences = [s.strip() for s in args.sentences.read_text(encoding="utf-8").splitlines() if s.strip()]
    recognizer = None
    if not args.no_asr:
        try:
            recognizer = Recognizer()
        except RecognizerUnavailable as e:
            raise UserError(f"{e} (or pass --no-asr)") from None
    synthesizer_path = args.synthesizer or ModelStore().default("synthesizer")
    synthesizer = load_synthesizer(synthesizer_path, "auto")
    if args.voice_match is not None:
        apply_controls(synthesizer, None, None, args.voice_match)
    refs = encoder.embed_files(voices)
    pipelines = {label: Pipeline(encoder, synthesizer, vocoder) for label, vocoder in vocoders.items()}
    # None for every voice unless voice match is on (then each reference is aligned once, for all vocoders)
    frames = [next(iter(pipelines.values())).reference_frames(v) for v in voices]
    ref_f0 = None
    if not args.no_pitch:
        from models.pitch import median_f0

        ref_f0 = [median_f0(load_audio(v)) for v in voices]
    runs = []
    for label, pipeline in pipelines.items():
        runs.append(_clone_run(label, pipeline, voices, sentences, refs, frames, ref_f0, recognizer, mos,
                               args.seed))
    report = {"mode": "clone", "synthesizer": str(synthesizer_path),
              "voice_match": getattr(synthesizer, "voice_match", None), "voices": len(voices),
              "sentences": len(sentences), "runs": runs}
    if args.real_baseline:
        report["real_baseline"] = _real_baseline(voices, refs, encoder, runs[0]["items"])
    return report


def _real_baseline(voices: list[Path], refs: np.ndarray, encoder, clones: list[dict]) -> dict:
    """Similarity to each reference of the other recordings in its folder, cut to the clones' mean length."""
    import numpy as np

    from models.audio import AUDIO_SUFFIXES, SAMPLE_RATE, load_audio
    from models.evaluation import centre_crop

    seconds = float(np.mean([c["seconds"] for c in clones]))
    n = int(round(seconds * SAMPLE_RATE))
    by_voice: dict[str, float] = {}
    sims: list[float] = []
    for v, voice in enumerate(voices):
        others = sorted(f for f in voice.parent.iterdir()
                        if f.suffix.lower() in AUDIO_SUFFIXES and f not in voices)
        if not others:
            log.warning("%s: no other recording in its folder; no real baseline for this voice", voice)
            continue
        print(f"eval: real baseline: voice {v + 1}/{len(voices)}, {len(others)} recordings", file=sys.stderr)
        scores = encoder.embed_utterances([centre_crop(load_audio(f), n) for f in others]) @ refs[v]
        by_voice[str(voice)] = round(float(scores.mean()), 4)
        sims += scores.tolist()
    return {"seconds": round(seconds, 2), "recordings": len(sims),
            "similarity_mean": round(float(np.mean(sims)), 4) if sims else None, "by_voice": by_voice}


def _clone_run(label: str, pipeline, voices: list[Path], sentences: list[str], refs: np.ndarray, frames: list,
               ref_f0: list[float] | None, recognizer, mos, seed: int) -> dict:
    import numpy as np

    from models.evaluation import equal_error_rate, pitch_summary, word_errors
    from models.naturalness import mean_scores
    from models.pitch import median_f0, semitones

    items, clone_embeds, clone_voice, scores, pitch_errors = [], [], [], [], []
    errors = n_words = 0
    for v, voice in enumerate(voices):
        for s, sentence in enumerate(sentences):
            print(f"eval: {label}: voice {v + 1}/{len(voices)}, sentence {s + 1}/{len(sentences)}", file=sys.stderr)
            wav = pipeline.clone(sentence, refs[v], seed=seed + s, reference=frames[v])
            embed = pipeline.encoder.embed_utterance(wav)
            item = {"voice": str(voice), "sentence": sentence, "seconds": round(len(wav) / 16_000, 2),
                    "similarity": round(float(embed @ refs[v]), 4)}
            if recognizer is not None:
                hyp = recognizer.transcribe(wav)
                e, n = word_errors(sentence, hyp)
                errors, n_words = errors + e, n_words + n
                item.update(hypothesis=hyp, wer=round(e / max(n, 1), 4))
            if mos is not None:
                scores.append(mos.score(wav))
                item["mos"] = scores[-1].rounded()
            if ref_f0 is not None:
                pitch_errors.append(semitones(median_f0(wav), ref_f0[v]))
                item["pitch_error"] = round(pitch_errors[-1], 3) if np.isfinite(pitch_errors[-1]) else None
            items.append(item)
            clone_embeds.append(embed)
            clone_voice.append(v)
    sims = np.array([it["similarity"] for it in items])
    run = {"vocoder": label, "clones": len(items),
           "similarity_mean": round(float(sims.mean()), 4), "similarity_min": round(float(sims.min()), 4),
           "wer": round(errors / n_words, 4) if recognizer is not None and n_words else None}
    if len(voices) > 1:  # verification: every clone against every reference voice
        scores_matrix = np.stack(clone_embeds) @ refs.T  # (clones, voices)
        labels = np.arange(len(voices))[None, :] == np.array(clone_voice)[:, None]
        run["eer"] = round(equal_error_rate(scores_matrix.ravel(), labels.ravel()), 4)
    if mos is not None:
        run["mos"] = mean_scores(scores)
    if ref_f0 is not None:
        run["pitch_error_semitones"] = pitch_summary(np.array(pitch_errors), [str(voices[v]) for v in clone_voice])
    run["items"] = items
    return run
