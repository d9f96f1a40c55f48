"""`sv2tts train MODEL RUN_DIR --data DIR [--config PRESET|FILE] [--resume] [--steps N]`.

Runs on one process or under torchrun (DDP), e.g.
`torchrun --standalone --nproc_per_node 2 -m toolbox.cli train encoder runs/enc --data DATA`.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from toolbox.cpu import add_threads_argument

EXAMPLES = """examples:
  sv2tts train phones runs/demo --data data/phones --steps 2000
  sv2tts train encoder runs/enc --data data/encoder --config small --resume
  torchrun --standalone --nproc_per_node 2 -m toolbox.cli train vocoder runs/voc --data data/synth"""

# model -> (module, function, default preset) of its trainer; a trainer takes
# (run_dir, data, config, resume, max_steps). "phones" is the duration-based demo synthesizer,
# "durations" its phone duration predictor, "variance" its pitch and energy predictor.
TRAINERS = {
    "encoder": ("models.training.encoder", "train_encoder", "rtvc"),
    "synthesizer": ("models.training.synthesizer", "train_synthesizer", "rtvc"),
    "vocoder": ("models.training.vocoder", "train_vocoder", "rtvc"),
    "phones": ("models.training.phones", "train_phones", "small"),
    "istft-vocoder": ("models.training.istft_vocoder", "train_istft_vocoder", "default"),
    "durations": ("models.training.durations", "train_durations", "small"),
    "variance": ("models.training.variance", "train_variance", "small"),
}
HELP = {
    "phones": "train the duration-based demo synthesizer (data: sv2tts preprocess phones)",
    "istft-vocoder": "train the fast iSTFT vocoder (data: any folder of speech audio files)",
    "durations": "train the demo synthesizer's phone duration predictor (data: sv2tts preprocess phones)",
    "variance": "train the demo synthesizer's pitch and energy predictor (data: sv2tts preprocess phones, "
                "then sv2tts preprocess variance)",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train or fine-tune a model (single process or torchrun)", epilog=EXAMPLES)
    models = p.add_subparsers(dest="model", metavar="MODEL")
    for name, (module, _, preset) in TRAINERS.items():
        if importlib.util.find_spec(module) is None:
            continue
        m = models.add_parser(name, help=HELP.get(name, f"train the {name}"),
                              epilog=f"examples:\n  sv2tts train {name} runs/{name} --data DATA --steps 100\n"
                                     f"  sv2tts train {name} runs/{name} --data DATA --resume --threads 2")
        m.add_argument("run_dir", type=Path, help="run directory (config, metrics.jsonl, state.pt, weights)")
        m.add_argument("--data", type=Path, required=True, help="preprocessed data (sv2tts preprocess)")
        m.add_argument("--config", default=preset, help=f"preset name or a JSON file (default {preset})")
        m.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR exactly")
        m.add_argument("--steps", type=int, help="stop at this step (default: until Ctrl-C)")
        add_threads_argument(m)
        m.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from toolbox.cli import UserError

    module, function, _ = TRAINERS[args.model]
    trainer = getattr(importlib.import_module(module), function)
    if not args.data.is_dir():
        raise UserError(f"{args.data}: no such data folder (run sv2tts preprocess first)")
    try:
        step = trainer(args.run_dir, args.data, args.config, args.resume, args.steps)
    except (FileExistsError, FileNotFoundError, ValueError) as e:
        raise UserError(str(e)) from None
    print(f"{args.model}: stopped at step {step}; weights in {args.run_dir / 'model.safetensors'}")
    return 0
