"""Speed of the duration-based demo synthesizer (`sv2tts bench synthesizer --synthesizer FILE` with a
phone-synthesizer file): text to mel, front-end and duration predictor included, in times real time."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

SENTENCES = Path(__file__).resolve().parents[2] / "assets" / "eval_sentences.txt"
FALLBACK = ["The little boat drifted slowly toward the quiet harbor.",
            "Please bring the green folder to the meeting tomorrow morning."]


def run(args: argparse.Namespace) -> dict:
    """Best of `repeats` rounds, per batch size: audio seconds made per wall second (x_realtime)."""
    from models.synthesizer.phone_synthesizer import PhoneSynthesizer

    texts = SENTENCES.read_text().split("\n") if SENTENCES.is_file() else FALLBACK
    texts = [t for t in texts if t.strip()]
    started = time.perf_counter()
    synth = PhoneSynthesizer.from_file(args.synthesizer)
    embed = np.random.default_rng(0).normal(size=256).astype(np.float32)
    embed /= np.linalg.norm(embed)
    synth.synthesize(texts[0], embed)  # the first call loads the dictionary and the rules
    cold = time.perf_counter() - started
    report: dict = {"model": str(args.synthesizer), "frontend": synth.frontend,
                    "precision": "bf16" if synth.bf16 else "fp32",
                    "parameters": sum(p.numel() for p in synth.model.parameters()),
                    "duration_parameters": sum(p.numel() for p in synth.durations.parameters())
                    if synth.durations is not None else 0,
                    "variance_parameters": sum(p.numel() for p in synth.variance.parameters())
                    if synth.uses_variance else 0,
                    "torch_threads": torch.get_num_threads(), "sentences": len(texts),
                    "load_and_first_sentence_s": round(cold, 3), "results": []}
    for batch in (int(b) for b in args.batches.split(",")):
        synth.batch_size = batch
        best = best_cpu = float("inf")
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            mels = synth.synthesize(texts, embed)
            best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
        audio_s = sum(m.shape[1] for m in mels) * synth.hop_length / synth.sample_rate
        # cpu_s: this process's CPU time, which other load on the machine does not inflate
        report["results"].append({"batch": batch, "audio_s": round(audio_s, 2), "wall_s": round(best, 4),
                                  "x_realtime": round(audio_s / best, 1), "cpu_s": round(best_cpu, 4),
                                  "x_realtime_cpu": round(audio_s / best_cpu, 1)})
    return report
