"""`sv2tts eval --voices ... --sentences FILE`: clone every sentence in every voice and report word
error rate (offline recognizer), speaker similarity to the reference and speaker-verification EER."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from models.audio import AUDIO_SUFFIXES

DEFAULT_SENTENCES = [
    "The little boat drifted slowly toward the quiet harbor.",
    "Please bring the green folder to the meeting tomorrow morning.",
    "She found seven old coins buried under the garden wall.",
    "A cold wind blew across the open field all night.",
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="clone voices and report WER, speaker similarity and EER (JSON)")
    p.add_argument("--voices", nargs="+", type=Path, required=True, help="reference audio files or folders")
    p.add_argument("--sentences", type=Path, help="UTF-8 text file, one sentence per line (default: built in)")
    p.add_argument("--synthesizer", type=Path, help="synthesizer weights (default: model store)")
    p.add_argument("--vocoder", help="'griffinlim' or WaveRNN weights (default: model store, else Griffin-Lim)")
    p.add_argument("--encoder", type=Path, help="encoder weights for embedding and similarity (default: published)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-asr", action="store_true", help="skip speech recognition (no WER)")
    p.add_argument("-o", "--output", type=Path, help="also write the JSON report here")
    p.set_defaults(func=run)


def voice_files(paths: list[Path]) -> list[Path]:
    files = []
    for p in paths:
        files += sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES) if p.is_dir() else [p]
    return files


def run(args: argparse.Namespace) -> int:
    from models.asr import Recognizer, RecognizerUnavailable
    from models.evaluation import equal_error_rate, word_errors
    from models.pipeline import Pipeline
    from models.store import ModelStore
    from toolbox.cli import UserError
    from toolbox.commands.clone import load_encoder, load_synthesizer, load_vocoder

    voices = voice_files(args.voices)
    if not voices:
        raise UserError("no reference audio found in --voices")
    sentences = DEFAULT_SENTENCES
    if args.sentences:
        sentences = [s.strip() for s in args.sentences.read_text(encoding="utf-8").splitlines() if s.strip()]
    recognizer = None
    if not args.no_asr:
        try:
            recognizer = Recognizer()
        except RecognizerUnavailable as e:
            raise UserError(f"{e} (or pass --no-asr)") from None
    encoder = load_encoder(args.encoder)
    synthesizer_path = args.synthesizer or ModelStore().default("synthesizer")
    pipeline = Pipeline(encoder, load_synthesizer(synthesizer_path, "auto"), load_vocoder(args.vocoder))
    refs = encoder.embed_files(voices)
    items, clone_embeds, clone_voice = [], [], []
    errors = n_words = 0
    for v, voice in enumerate(voices):
        for s, sentence in enumerate(sentences):
            print(f"eval: voice {v + 1}/{len(voices)}, sentence {s + 1}/{len(sentences)}", file=sys.stderr)
            wav = pipeline.clone(sentence, refs[v], seed=args.seed + s)
            embed = encoder.embed_utterance(wav)
            item = {"voice": str(voice), "sentence": sentence, "seconds": round(len(wav) / 16_000, 2),
                    "similarity": round(float(embed @ refs[v]), 4)}
            if recognizer is not None:
                hyp = recognizer.transcribe(wav)
                e, n = word_errors(sentence, hyp)
                errors, n_words = errors + e, n_words + n
                item.update(hypothesis=hyp, wer=round(e / max(n, 1), 4))
            items.append(item)
            clone_embeds.append(embed)
            clone_voice.append(v)
    sims = np.array([it["similarity"] for it in items])
    report = {"synthesizer": str(synthesizer_path), "vocoder": type(pipeline.vocoder).__name__,
              "voices": len(voices), "sentences": len(sentences), "clones": len(items),
              "similarity_mean": round(float(sims.mean()), 4), "similarity_min": round(float(sims.min()), 4),
              "wer": round(errors / n_words, 4) if recognizer is not None and n_words else None}
    if len(voices) > 1:  # verification: every clone against every reference voice
        scores = np.stack(clone_embeds) @ refs.T  # (clones, voices)
        labels = np.arange(len(voices))[None, :] == np.array(clone_voice)[:, None]
        report["eer"] = round(equal_error_rate(scores.ravel(), labels.ravel()), 4)
    report["items"] = items
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text)
    return 0
