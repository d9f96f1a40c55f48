"""How often the Python front-end reads text as flite does: phone error rate (edit distance over
flite's phone count, pauses included) over sentences, one per line.

    python tools/frontend_vs_flite.py assets/eval_sentences.txt runs/corpus/*/*.txt
"""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

from models.text.frontend import text_to_phones
from models.text.phones import flite_phones, to_frames


def main(paths: list[str]) -> None:
    lines = [line.strip() for p in paths for line in Path(p).read_text().splitlines() if line.strip()]
    errors = total = same = 0
    for text in lines:
        ids, _ = to_frames(flite_phones(text), 80.0)  # merges consecutive pauses as the data does
        ref = ids.tolist()
        hyp = text_to_phones(text).ids().tolist()
        matcher = difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False)
        errors += max(len(ref), len(hyp)) - sum(b.size for b in matcher.get_matching_blocks())
        total += len(ref)
        same += ref == hyp
    print(json.dumps({"sentences": len(lines), "flite_phones": total, "phone_error_rate": round(errors / total, 4),
                      "identical_sentences": same}))


if __name__ == "__main__":
    main(sys.argv[1:])
