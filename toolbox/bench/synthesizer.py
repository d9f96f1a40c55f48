"""Synthesizer decoding speed: ms per mel frame at batch 1 and 8, published size, vs a naive loop.

Random weights of the published layout (or --synthesizer PATH) are run to a fixed number of frames
(stop tokens ignored), so every precision and batch size does the same work. The naive loop is the
reference's way of stepping the decoder (module calls per step, full mel_proj, separate location conv
and linear, fp32); its output is compared with ours at fp32.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch
import torch.nn.functional as F


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--synthesizer", type=Path, help="weights to time (default: random published layout)")
    p.add_argument("--frames", type=int, default=400, help="mel frames per item (default 400 = 5 s)")
    p.add_argument("--batches", default="1,8", help="comma-separated batch sizes (default 1,8)")
    p.add_argument("--precisions", default="auto,fp32,fp16", help="decoder precisions to time "
                   "(auto = int8 on CPUs)")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds; the best run per setting is kept")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: at batch 1 the decoder is a chain of small ops, and on "
                   "2 shared cores OpenMP synchronisation costs more than it gains; 0 = torch default)")
    p.add_argument("--no-naive", action="store_true", help="skip the naive reference-style loop")


def run(args: argparse.Namespace) -> dict:
    from models.synthesizer import Synthesizer, Tacotron, TacotronConfig
    from models.synthesizer.synthesizer import default_precision

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.synthesizer and _is_phone_synthesizer(args.synthesizer):
        from toolbox.bench.phone_synthesizer import run as run_phones

        return run_phones(args)
    torch.manual_seed(0)
    report_threads = torch.get_num_threads()
    if args.synthesizer:
        model = Synthesizer.from_file(args.synthesizer).model
    else:
        model = Tacotron(TacotronConfig.rtvc())
    config = dataclasses.replace(model.config, max_frames=args.frames)
    model.config = config  # the length guard now stops every item at exactly `frames`
    model.eval()
    n_chars = 60
    report: dict = {"model": str(args.synthesizer or "random weights, published layout"),
                    "parameters": model.num_params(), "r": model.r, "frames_per_item": args.frames,
                    "text_symbols": n_chars, "torch_threads": report_threads,
                    "auto_precision": default_precision("cpu"), "results": []}
    # Settings are timed in interleaved rounds (best of `repeats` each), so that load from other
    # processes drifting during the run does not favour whichever setting ran in a quiet moment.
    settings = [(p, int(b)) for p in args.precisions.split(",") for b in args.batches.split(",")]
    jobs = {(p, b): _job(model, b, n_chars, _resolve(p)) for p, b in settings}
    if not args.no_naive:
        jobs["naive", 1] = lambda: _naive_generate(model, n_chars)
    best = _time_interleaved(jobs, args.repeats)
    for precision, batch in settings:
        seconds = best[precision, batch]
        resolved = _resolve(precision)
        report["results"].append({
            "precision": precision if precision == resolved else f"{precision} ({resolved})", "batch": batch,
            "ms_per_frame": round(1000 * seconds / args.frames, 3),
            "ms_per_frame_per_item": round(1000 * seconds / args.frames / batch, 3),
            "x_realtime": round(batch * args.frames * 0.0125 / seconds, 2),
        })
    if not args.no_naive:
        naive_ms = 1000 * best["naive", 1] / args.frames
        report["naive_batch1_ms_per_frame"] = round(naive_ms, 3)
        for r in report["results"]:
            if r["batch"] == 1:
                r["speedup_vs_naive"] = round(naive_ms / r["ms_per_frame"], 2)
        naive = _naive_generate(model, n_chars)
        for precision in ("fp32", "fp16", "int8"):
            ours = _generate(model, 1, n_chars, precision)
            report[f"{precision}_max_abs_diff_vs_naive"] = float((ours - naive[:, :ours.shape[1]]).abs().max())
    return report


def _is_phone_synthesizer(path: Path) -> bool:
    from models.checkpoint import safetensors_kind

    return path.suffix == ".safetensors" and safetensors_kind(path) == "phone-synthesizer"


def _resolve(precision: str) -> str:
    from models.synthesizer.synthesizer import default_precision

    return default_precision("cpu") if precision == "auto" else precision


def _job(model, batch: int, n_chars: int, precision: str):
    return lambda: _generate(model, batch, n_chars, precision)


def _time_interleaved(jobs: dict, repeats: int) -> dict:
    for fn in jobs.values():
        fn()  # warm-up (weights cache, allocator)
    best = dict.fromkeys(jobs, float("inf"))
    for _ in range(max(1, repeats)):
        for key, fn in jobs.items():
            start = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - start)
    return best


def _inputs(batch: int, n_chars: int):
    gen = torch.Generator().manual_seed(1)
    chars = torch.randint(2, 66, (batch, n_chars), generator=gen)
    chars[:, -1] = 1
    speaker = torch.rand(batch, 256, generator=gen)
    return chars, torch.full((batch,), n_chars), speaker / speaker.norm(dim=1, keepdim=True)


def _generate(model, batch: int, n_chars: int, precision: str) -> torch.Tensor:
    chars, lengths, speaker = _inputs(batch, n_chars)
    generators = [torch.Generator().manual_seed(i) for i in range(batch)]
    mels, _ = model.generate(chars, lengths, speaker, generators, use_stop_token=False, precision=precision)
    return mels[0]


@torch.inference_mode()
def _naive_generate(model, n_chars: int) -> torch.Tensor:
    """Batch 1, decoder stepped through the modules as the reference does (same dropout masks)."""
    chars, lengths, speaker = _inputs(1, n_chars)
    c, r, d = model.config, model.r, model.decoder
    steps = -(-c.max_decoder_frames(n_chars) // r)
    enc_masks, (m1, m2) = model._dropout_masks([torch.Generator().manual_seed(0)], [n_chars], [steps],
                                               n_chars, chars.device)
    memory = model.encoder(chars, lengths, speaker, enc_masks)
    keys = model.encoder_proj(memory)  # (1, T_x, A)
    frame = torch.zeros(1, c.n_mels)
    context = torch.zeros(1, c.context_dims)
    attn_h = torch.zeros(1, c.decoder_dims)
    h1, c1, h2, c2 = (torch.zeros(1, c.lstm_dims) for _ in range(4))
    cumulative = torch.zeros(1, n_chars)
    outs = []
    for i in range(steps):
        x = d.prenet(frame, (m1[:, i], m2[:, i]))
        attn_h = d.attn_rnn(torch.cat([context, x], -1), attn_h)
        a = d.attn_net
        loc = a.L(a.conv(cumulative.unsqueeze(1)).transpose(1, 2))
        u = a.v(torch.tanh(a.W(attn_h).unsqueeze(1) + keys + loc)).squeeze(-1)
        weights = F.softmax(u, dim=1)
        cumulative = cumulative + weights
        context = (weights.unsqueeze(1) @ memory).squeeze(1)
        x = d.rnn_input(torch.cat([context, attn_h], 1))
        h1, c1 = d.res_rnn1(x, (h1, c1))
        x = x + h1
        h2, c2 = d.res_rnn2(x, (h2, c2))
        x = x + h2
        mels = d.mel_proj(x).view(1, c.n_mels, d.max_r)[:, :, :r]
        torch.sigmoid(d.stop_proj(torch.cat([x, context], 1)))
        outs.append(mels)
        frame = mels[:, :, -1]
    mel = torch.cat(outs, 2)
    return model._postnet(mel, torch.tensor([mel.size(2)]))[0]
