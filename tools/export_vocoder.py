"""Export a trained iSTFT vocoder for `pretrained/`: the run's weights with a new
`synthesized_mel_contrast` (how much a synthesizer's mels are contrast-enhanced before this vocoder
renders them; models.vocoding.synthesized_input) and the run's step, fine-tuning source and data noted
in the header. Prints the size and sha256 for the manifest.

    python tools/export_vocoder.py runs/istft-gta/model.safetensors pretrained/demo-vocoder.safetensors \\
        --synthesized-mel-contrast 1.3 --note "fine-tuned from ... on ..."
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
from pathlib import Path

from models.checkpoint import load_safetensors
from models.vocoder.istft import KIND
from models.vocoder.istft_vocoder import IstftVocoder


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--synthesized-mel-contrast", type=float, required=True)
    p.add_argument("--note", default="")
    args = p.parse_args()
    _, _, meta = load_safetensors(args.source, KIND)
    vocoder = IstftVocoder.from_file(args.source)
    config = dataclasses.replace(vocoder.config, synthesized_mel_contrast=args.synthesized_mel_contrast)
    vocoder.net.config = vocoder.config = config
    extra = {"step": meta.get("step", "?"), **({"note": args.note} if args.note else {})}
    out = vocoder.save(args.out, extra)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}: {out.stat().st_size} bytes, sha256 {digest}, step {extra['step']}")


if __name__ == "__main__":
    main()
