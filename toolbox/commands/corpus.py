"""`sv2tts corpus OUT_DIR`: a multi-speaker synthetic speech corpus from flite / espeak-ng."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)
EXAMPLES = """examples:
  sv2tts corpus data/synthetic --speakers 24 --utterances 60
  sv2tts corpus data/mixed --engines flite,espeak-ng --seed 3 --jobs 1"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("corpus", help="build a synthetic multi-speaker corpus with flite / espeak-ng",
                       description="Write OUT_DIR/<speaker>/<utt>.wav (16 kHz) + .txt (+ .phones.json for "
                       "flite) and OUT_DIR/speakers.json. Deterministic for a seed; re-running skips "
                       "finished utterances.", epilog=EXAMPLES)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--speakers", type=int, default=8, help="number of synthetic speakers (default 8)")
    p.add_argument("--utterances", type=int, default=20, help="utterances per speaker (default 20)")
    p.add_argument("--engines", default="flite",
                   help="comma-separated engines, speakers cycle through them (flite, espeak-ng; default flite)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2, help="engine processes run at once (default 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.data.synthetic import ENGINES, EngineError, build_corpus
    from toolbox.cli import UserError

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    bad = [e for e in engines if e not in ENGINES]
    if not engines or bad:
        raise UserError(f"--engines {args.engines!r}: valid engines are {', '.join(ENGINES)}")
    if args.speakers < 1 or args.utterances < 1:
        raise UserError("--speakers and --utterances must be at least 1")
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=args.speakers * args.utterances, unit="utt", desc="corpus", file=sys.stderr)
    try:
        counts = build_corpus(args.out_dir, args.speakers, args.utterances, engines, seed=args.seed,
                              jobs=args.jobs, progress=(lambda d, t: bar.update(1)) if bar else None)
    except (EngineError, ValueError) as e:
        raise UserError(str(e)) from None
    finally:
        if bar:
            bar.close()
    print(f"{args.out_dir}: {args.speakers} speakers x {args.utterances} utterances "
          f"({counts['rendered']} rendered, {counts['skipped']} already there)", file=sys.stderr)
    return 0
