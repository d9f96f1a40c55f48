"""Vocoder speed: real-time factor, time to first final chunk, and a baseline measured in the same run.

For WaveRNN the baseline is the reference implementation's loop; for any other vocoder (`--vocoder
demo-vocoder`, a weights file of another kind) the report compares it with WaveRNN float32 (random
weights of the published size) and Griffin-Lim on the same mel, and takes the median of `--repeats`.

The fast path streams chunks; `first_chunk_s` is the time from handing over the mel to the first
final chunk, `max_stall_s` how long playback started at that moment would have waited for audio
later on (0 = never starves), `no_stall_start_s` the earliest playback start that never waits, and
`gated_start_s` / `gated_max_stall_s` when a player using toolbox.audio_io.StartGate (as `clone --play`
and the toolbox do) starts, and the longest it then waits.
The naive baseline is the reference algorithm (per-sample Python loop,
GRUCells, softmax + Categorical, folds 8000/800) on the same weights and mel; its per-step time is
measured over `--naive-steps` steps and multiplied by its (length-independent) 9600 steps.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch

from toolbox.audio_io import StartGate

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vocoder", default=None, metavar="NAME|PATH",
                   help="a vocoder name ('demo-vocoder', 'vocoder', 'griffinlim') or weights file "
                        "(default: WaveRNN with random weights of the published size)")
    p.add_argument("--repeats", type=int, default=5, help="runs of a non-WaveRNN vocoder (median reported)")
    p.add_argument("--seconds", type=float, default=5.0, help="audio duration to generate (default 5)")
    p.add_argument("--mel", default=None, metavar="MEL.npy", help="use this (80, T) mel instead")
    p.add_argument("--precision", choices=["auto", "float32", "bf16"], default="auto")
    p.add_argument("--schedule", choices=["stream", "published"], default="stream")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's setting)")
    p.add_argument("--naive-steps", type=int, default=300,
                   help="reference-loop steps to time (0: skip, -1: run it fully)")
    p.add_argument("--no-float32", action="store_true", help="skip the extra float32 run")
    p.add_argument("--rows", type=int, default=64, help="batch rows the stream schedule aims for")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--step-time", type=float, default=None,
                   help="seconds per step the stream plan assumes (default: measured on 2 s of audio)")


def bench_mel(seconds: float, seed: int = 0) -> np.ndarray:
    """A real 80-band mel (models.audio) of a voiced, pitch-gliding harmonic signal."""
    from models.audio import synth_mel

    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    f0 = 110 + 50 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    env = 0.25 * (1.2 + np.sin(2 * np.pi * 2.5 * t))
    wav = env * sum(np.sin(k * phase) / k for k in range(1, 20))
    wav += 0.01 * np.random.default_rng(seed).standard_normal(n)
    return synth_mel(wav.astype(np.float32))[:, : n // 200 + 1]


def time_stream(voc, mel: np.ndarray, seed: int) -> dict:
    sr = voc.sample_rate
    start = time.perf_counter()
    first = None
    pos = 0
    stall = 0.0
    late = 0.0  # playback starting at `late` seconds never waits for audio
    # What a player using StartGate (fed by the stream's progress) does: when it starts, any wait after.
    gate = StartGate(clock=lambda: time.perf_counter() - start)
    gated_start, gated_stall = None, 0.0
    for chunk in voc.stream(mel, seed=seed, progress=gate.progress):
        now = time.perf_counter() - start
        if first is None:
            first = now
        stall = max(stall, now - (first + pos / sr))
        late = max(late, now - pos / sr)
        if gated_start is not None:
            gated_stall = max(gated_stall, now - (gated_start + pos / sr))
        pos += len(chunk)
        if gated_start is None and gate.ready(pos / sr):
            gated_start = now
    total = time.perf_counter() - start
    dur = pos / sr
    gated_start = total if gated_start is None else gated_start
    return {"rtf": round(total / dur, 4), "first_chunk_s": round(first, 4), "khz": round(pos / total / 1000, 3),
            "max_stall_s": round(max(stall, 0.0), 4), "no_stall_start_s": round(late, 4),
            "gated_start_s": round(gated_start, 4), "gated_max_stall_s": round(max(gated_stall, 0.0), 4),
            "seconds": round(total, 3), "samples": pos,
            **{k: getattr(voc, k) for k in ("precision", "schedule") if hasattr(voc, k)}}


def time_naive(net, mel: np.ndarray, steps: int, seed: int) -> dict:
    from models.vocoder.folding import uniform_plan
    from models.vocoder.naive import naive_generate

    total_steps = max(uniform_plan(mel.shape[1] * 200, 8000, 800).lengths)
    t0 = time.perf_counter()
    naive_generate(net, mel, 8000, 800, seed=seed, max_steps=min(20, total_steps))  # warm-up
    t1 = time.perf_counter()
    n = total_steps if steps < 0 else min(steps, total_steps)
    naive_generate(net, mel, 8000, 800, seed=seed, max_steps=n)
    t2 = time.perf_counter()
    fixed = t1 - t0  # conditioning + folding + unfold, measured with 20 steps (slight overestimate)
    per_step = (t2 - t1 - fixed) / max(n - 20, 1) if n > 20 else (t2 - t1) / n
    est = (t2 - t1) if n == total_steps else fixed + per_step * total_steps
    dur = (mel.shape[1] - 1) * 200 / 16000
    return {"rtf": round(est / dur, 3), "seconds": round(est, 2), "steps_timed": n, "steps": total_steps,
            "ms_per_step": round(per_step * 1e3, 3), "extrapolated": n < total_steps}


def median_stream(voc, mel: np.ndarray, seed: int, repeats: int) -> dict:
    """time_stream's report of the run with the median real-time factor (after one warm-up run)."""
    voc.vocode(mel[:, :40], seed=seed)
    runs = sorted((time_stream(voc, mel, seed) for _ in range(max(1, repeats))), key=lambda r: r["rtf"])
    return {**runs[len(runs) // 2], "runs": len(runs), "rtf_min": runs[0]["rtf"], "rtf_max": runs[-1]["rtf"]}


def run_other(voc, name: str, mel: np.ndarray, args: argparse.Namespace) -> dict:
    """A non-WaveRNN vocoder, with WaveRNN float32 and Griffin-Lim measured on the same mel."""
    from models.griffinlim import GriffinLim
    from models.vocoder import VocoderConfig, WaveRNN, WaveRNNVocoder

    report = {"vocoder": name, "kind": type(voc).__name__, "threads": torch.get_num_threads(),
              "mel_frames": int(mel.shape[1]), "audio_s": (mel.shape[1] - 1) * 200 / 16000,
              **median_stream(voc, mel, args.seed, args.repeats)}
    torch.manual_seed(args.seed)
    wavernn = WaveRNNVocoder(WaveRNN(VocoderConfig.rtvc()), precision="float32")
    report["wavernn_float32"] = {"weights": "random, published size", **median_stream(wavernn, mel, args.seed, 1)}
    report["griffinlim"] = median_stream(GriffinLim(), mel, args.seed, args.repeats)
    for base in ("wavernn_float32", "griffinlim"):
        report[f"speedup_vs_{base}"] = round(report[base]["rtf"] / report["rtf"], 1)
    return report


def run(args: argparse.Namespace) -> dict:
    from models.vocoder import VocoderConfig, WaveRNN, WaveRNNVocoder
    from models.vocoders import resolve_vocoder

    if args.threads:
        torch.set_num_threads(args.threads)
    mel = np.load(args.mel).astype(np.float32) if args.mel else bench_mel(args.seconds, args.seed)
    if args.vocoder:
        voc = resolve_vocoder(args.vocoder, precision=args.precision, schedule=args.schedule, rows=args.rows)
        if not isinstance(voc, WaveRNNVocoder):
            return run_other(voc, args.vocoder, mel, args)
        weights = str(args.vocoder)
    else:
        torch.manual_seed(args.seed)
        voc = WaveRNNVocoder(WaveRNN(VocoderConfig.rtvc()), precision=args.precision, schedule=args.schedule,
                             rows=args.rows)
        weights = "random, published size"
    voc.vocode(mel[:, :6], seed=args.seed)  # warm-up: oneDNN kernels, allocator
    if args.step_time:
        voc.step_time = args.step_time
    elif voc.schedule == "stream":  # calibrate the streaming plan on 2 s of the mel
        voc.vocode(mel[:, :161], seed=args.seed)
        voc.step_time = voc.last_step_time
    report = {"weights": weights, "threads": torch.get_num_threads(), "mel_frames": int(mel.shape[1]),
              "plan_step_time_ms": round(voc.step_time * 1e3, 3),
              "audio_s": (mel.shape[1] - 1) * 200 / 16000, "plan_folds": voc.plan(mel.shape[1] * 200).num_folds,
              "plan_steps": voc.plan(mel.shape[1] * 200).steps}
    fast = time_stream(voc, mel, args.seed)
    report.update(fast)
    if voc.precision != "float32" and not args.no_float32:
        voc.set_precision("float32")
        if voc.schedule == "stream" and not args.step_time:
            voc.vocode(mel[:, :161], seed=args.seed)
            voc.step_time = voc.last_step_time
        report["float32"] = time_stream(voc, mel, args.seed)
    if args.naive_steps:
        naive = time_naive(voc.net, mel, args.naive_steps, args.seed)
        report["naive"] = naive
        report["speedup_vs_naive"] = round(naive["seconds"] / fast["seconds"], 2)
    try:
        report["load_average"] = [round(x, 2) for x in __import__("os").getloadavg()]
    except OSError:
        pass
    return report
