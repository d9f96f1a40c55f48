"""Letter-to-sound rules for words the pronouncing dictionary lacks, learnt from the dictionary itself.

Training (``python -m models.text.lts [--heldout 0.05]``, ~3 min; writes ``models/text/data/lts.json.gz``):

1. Letters and phones of every dictionary word are aligned one letter to zero, one or two phones
   (a few kinds of pairs only, see :func:`allowed_pair`) by Viterbi EM: the emission table
   p(phones | letter) starts from position-diagonal co-occurrence counts and is re-estimated from
   the alignments three times.
2. Each letter's phone output is predicted from its letter context by the longest context seen in
   training, widening from the letter alone to 4 letters either side (a back-off table). Entries
   that predict the same as their narrower context are pruned, which changes no prediction.

    >>> LetterToSound.bundled().predict("blorf")
    ('B', 'L', 'AO1', 'R', 'F')
"""

from __future__ import annotations

import gzip
import json
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

BUNDLED_PATH = Path(__file__).parent / "data" / "lts.json.gz"
FORMAT = "sv2tts-lts/1"
LETTERS = "abcdefghijklmnopqrstuvwxyz'"
EMPTY = "_"  # a silent letter
PAD = "#"  # word edge in a context
# (left, right) context widths, each window containing the previous one
WINDOWS: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 1), (1, 2), (2, 2), (2, 3), (3, 3), (3, 4), (4, 4))

Entry = tuple[str, tuple[str, ...]]  # (word, phones with stress)
_VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())


def allowed_pair(first: str, second: str) -> bool:
    """Whether one letter may stand for these two phones: x = K S / G Z, u = Y UW, o = W AH,
    m = AH0 M ("prism"), l = AH0 L ("table"). Restricting pairs keeps the alignments consistent."""
    a, b = first.rstrip("012"), second.rstrip("012")
    return ((a in ("K", "G") and b in ("S", "Z", "SH", "ZH")) or (a in ("Y", "W") and b in _VOWELS)
            or (first in ("AH0", "ER0", "IH0") and b in ("L", "M", "N")))


def _join(phones: Sequence[str]) -> str:
    return " ".join(phones) if phones else EMPTY


def align(letters: str, phones: Sequence[str], logp: dict[tuple[str, str], float], floor: float
          ) -> list[str] | None:
    """Best alignment of each letter to 0, 1 or 2 phones: one output string per letter (None if impossible)."""
    n, m = len(letters), len(phones)
    neg = -math.inf
    best = [[neg] * (m + 1) for _ in range(n + 1)]
    back: list[list[int]] = [[0] * (m + 1) for _ in range(n + 1)]
    best[0][0] = 0.0
    for i in range(1, n + 1):
        letter = letters[i - 1]
        row, prev = best[i], best[i - 1]
        for j in range(0, m + 1):
            for k in (0, 1, 2):
                if j - k < 0 or prev[j - k] == neg or (k == 2 and not allowed_pair(phones[j - 2], phones[j - 1])):
                    continue
                out = _join(phones[j - k:j])
                score = prev[j - k] + logp.get((letter, out), floor - (3.0 if k == 2 else 0.0))
                if score > row[j]:
                    row[j], back[i][j] = score, k
    if best[n][m] == neg:
        return None
    outputs, j = [], m
    for i in range(n, 0, -1):
        k = back[i][j]
        outputs.append(_join(phones[j - k:j]))
        j -= k
    return outputs[::-1]


def _initial_logp(entries: Sequence[Entry]) -> dict[tuple[str, str], float]:
    """p(phone | letter) from letters and phones at similar relative positions (and a silent-letter prior)."""
    counts: Counter[tuple[str, str]] = Counter()
    for word, phones in entries:
        n, m = len(word), len(phones)
        for i, letter in enumerate(word):
            centre = (i + 0.5) * m / n
            for j in range(max(0, int(centre) - 1), min(m, int(centre) + 2)):
                counts[letter, phones[j]] += 1
            counts[letter, EMPTY] += 0.3
    return _normalize(counts)


def _normalize(counts: Counter[tuple[str, str]]) -> dict[tuple[str, str], float]:
    totals: Counter[str] = Counter()
    for (letter, _), c in counts.items():
        totals[letter] += c
    return {(letter, out): math.log(c / totals[letter]) for (letter, out), c in counts.items()}


def align_all(entries: Sequence[Entry], iterations: int = 3) -> list[tuple[str, list[str]]]:
    """Viterbi EM alignment of the whole dictionary: [(word, output per letter), ...]."""
    logp = _initial_logp(entries)
    aligned: list[tuple[str, list[str]]] = []
    for it in range(iterations):
        counts: Counter[tuple[str, str]] = Counter()
        aligned = []
        for word, phones in entries:
            outputs = align(word, phones, logp, floor=-12.0)
            if outputs is None:
                continue
            aligned.append((word, outputs))
            counts.update(zip(word, outputs, strict=True))
        logp = _normalize(counts)
        log.info("alignment iteration %d: %d of %d words aligned", it + 1, len(aligned), len(entries))
    return aligned


def _context(word: str | list[str], i: int, left: int, right: int) -> str:
    padded = PAD * 4 + "".join(word) + PAD * 4
    c = i + 4
    return padded[c - left:c] + "[" + padded[c] + "]" + padded[c + 1:c + 1 + right]


def _lone_vowel(word: str | list[str], i: int) -> bool:
    vowels = "aeiou"
    return (0 < i < len(word) - 1 and word[i] in vowels and word[i - 1] not in vowels + "'"
            and word[i + 1] not in vowels + "'")


class LetterToSound:
    """Back-off table: context string -> phone output; see the module docstring."""

    def __init__(self, rules: dict[str, str]) -> None:
        self.rules = rules

    @classmethod
    def train(cls, aligned: Iterable[tuple[str, list[str]]], min_count: int = 2) -> LetterToSound:
        """min_count: a context wider than one letter either side needs this many examples to make a
        rule (one odd word, e.g. 'colorful', must not decide how every '-lorf-' is read)."""
        counts: list[dict[str, Counter[str]]] = [defaultdict(Counter) for _ in WINDOWS]
        for word, outputs in aligned:
            for i, out in enumerate(outputs):
                for w, (left, right) in enumerate(WINDOWS):
                    counts[w][_context(word, i, left, right)][out] += 1
        rules: dict[str, str] = {}
        for w, (left, right) in enumerate(WINDOWS):
            for ctx, outs in counts[w].items():
                if w > 2 and sum(outs.values()) < min_count:
                    continue
                chosen = max(sorted(outs), key=outs.__getitem__)  # ties: alphabetical, for reproducibility
                if w == 0 or chosen != cls._walk(rules, ctx, left, right, w):
                    rules[ctx] = chosen
        return cls(rules)

    @staticmethod
    def _walk(rules: dict[str, str], ctx: str, left: int, right: int, upto: int) -> str:
        """The prediction of the windows narrower than `upto` for the context `ctx` of window (left, right)."""
        centre = left  # index of "[" in ctx
        word_part = ctx[:centre] + ctx[centre + 1] + ctx[centre + 3:]
        pred = EMPTY
        for w in range(upto):
            lw, rw = WINDOWS[w]
            sub = word_part[centre - lw:centre] + "[" + word_part[centre] + "]" + word_part[centre + 1:centre + 1 + rw]
            pred = rules.get(sub, pred)
        return pred

    def predict(self, word: str) -> tuple[str, ...]:
        """Phones with stress (CMU style, e.g. 'AH0') for a lower-case word of LETTERS."""
        letters = [c for c in word if c in LETTERS]
        best: list[str] = []  # the widest context's output per letter
        spoken: list[str] = []  # the widest context's output that is not silent
        for i in range(len(letters)):
            pred, sound = EMPTY, EMPTY
            for left, right in WINDOWS:
                pred = self.rules.get(_context(letters, i, left, right), pred)
                sound = pred if pred != EMPTY else sound
            best.append(pred)
            spoken.append(sound)
        phones: list[str] = []
        for i, pred in enumerate(best):
            if pred == EMPTY and _lone_vowel(letters, i) and best[i + 1].split()[0].rstrip("012") not in _VOWELS:
                # a single vowel letter between consonant letters is silent only when its neighbour takes
                # the syllable ("colorful": r = ER0); a wide context saying "silent" while the next letter
                # stays a consonant would drop the syllable ("blorf" -> B L R F)
                pred = spoken[i]
            if pred != EMPTY:
                phones += pred.split()
        return tuple(phones)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": FORMAT, "windows": WINDOWS, "rules": dict(sorted(self.rules.items()))}
        with gzip.GzipFile(path, "wb", mtime=0) as f:
            f.write(json.dumps(data, separators=(",", ":")).encode())
        return path

    @classmethod
    def load(cls, path: Path) -> LetterToSound:
        try:
            with gzip.open(path, "rb") as f:
                data = json.loads(f.read())
        except (OSError, EOFError, ValueError) as e:  # missing, not gzip, truncated, not JSON
            raise ValueError(f"{path}: unreadable letter-to-sound table ({e}); rebuild it: python -m models.text.lts"
                             ) from None
        if (not isinstance(data, dict) or data.get("format") != FORMAT
                or [tuple(w) for w in data["windows"]] != list(WINDOWS)):
            raise ValueError(f"{path}: not a {FORMAT} letter-to-sound table (rebuild: python -m models.text.lts)")
        return cls(data["rules"])

    @classmethod
    @cache
    def bundled(cls) -> LetterToSound:
        return cls.load(BUNDLED_PATH)


def training_entries() -> list[Entry]:
    """The first pronunciation of every dictionary word made only of LETTERS."""
    from models.text.lexicon import cmu_dictionary

    return [(w, prons[0]) for w, prons in sorted(cmu_dictionary().items())
            if all(c in LETTERS for c in w)]


def evaluate(model: LetterToSound, entries: Sequence[Entry]) -> dict[str, float]:
    """Word accuracy and phone error rate (edit distance / reference length), stress ignored."""
    import difflib

    words_ok, errors, total = 0, 0, 0
    for word, phones in entries:
        ref = [p.rstrip("012") for p in phones]
        hyp = [p.rstrip("012") for p in model.predict(word)]
        words_ok += ref == hyp
        sm = difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False)
        errors += max(len(ref), len(hyp)) - sum(b.size for b in sm.get_matching_blocks())
        total += len(ref)
    return {"words": len(entries), "word_accuracy": words_ok / len(entries), "phone_error_rate": errors / total}


def main() -> None:
    import argparse
    import random

    parser = argparse.ArgumentParser(description="train the letter-to-sound table on the CMU dictionary")
    parser.add_argument("-o", "--output", type=Path, default=BUNDLED_PATH)
    parser.add_argument("--heldout", type=float, default=0.0,
                        help="first measure accuracy on this share of the words, held out (then train on all)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    entries = training_entries()
    random.Random(0).shuffle(entries)
    n_test = int(len(entries) * args.heldout)
    aligned = dict(align_all(entries))  # unsupervised: the held-out words' alignments are not used below
    if n_test:
        held = {w for w, _ in entries[:n_test]}
        model = LetterToSound.train((w, o) for w, o in aligned.items() if w not in held)
        print(json.dumps({**evaluate(model, entries[:n_test]), "rules": len(model.rules)}))
    model = LetterToSound.train(aligned.items())
    model.save(args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes, {len(model.rules)} rules)")


if __name__ == "__main__":
    main()
