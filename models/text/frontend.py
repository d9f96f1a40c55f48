"""Text -> phones in Python, no system binary: the front-end of the duration-based demo synthesizer.

The text is cleaned as for the Tacotron (numbers, currency, abbreviations, transliteration; see
:mod:`models.text.cleaners`), each word is looked up in the CMU pronouncing dictionary, and the words
it lacks are read by their letter names (all-capital acronyms, words without a vowel letter) or by
learnt letter-to-sound rules (:mod:`models.text.lts`). CamelCase words are read part by part,
possessives add /s/, /z/ or /ɪz/. Punctuation (, ; : . ! ? ( ) and dashes) becomes a pause, as does
the start and the end. The phones are the demo model's table (:data:`models.text.phones.PHONES`,
flite's set: stress removed, schwa = 'ah'); the stress of every vowel is kept alongside.

    >>> text_to_phones("Hi, Bob!").phones
    ('pau', 'hh', 'ay', 'pau', 'b', 'aa', 'b', 'pau')
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from models.text import TextError, encode_text
from models.text.lexicon import Phones, lookup, pronounce, spell
from models.text.phones import PHONE_TO_ID, normalize_phone

log = logging.getLogger(__name__)

PAUSE = "pau"
NO_STRESS = 3  # stress class of consonants and pauses (vowels: 0 unstressed, 1 primary, 2 secondary)
N_STRESS = 4
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*'?|[,;:.!?()\u2014]|(?<=\s)-+(?=\s)|--+")
_RAW_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_SIBILANTS = frozenset({"S", "Z", "SH", "ZH", "CH", "JH"})
_VOICELESS = frozenset({"P", "T", "K", "F", "TH"})


@dataclass(frozen=True)
class PhoneString:
    """phones: names from PHONES ('pau' for pauses); stress: 0/1/2 per vowel, NO_STRESS otherwise;
    words: the words spoken; word_index: the word each phone belongs to (-1 for pauses)."""

    phones: tuple[str, ...]
    stress: tuple[int, ...]
    words: tuple[str, ...]
    word_index: tuple[int, ...]

    def ids(self) -> np.ndarray:
        """(N,) int64 phone IDs."""
        return np.asarray([PHONE_TO_ID[p] for p in self.phones], dtype=np.int64)

    def stress_ids(self) -> np.ndarray:
        """(N,) int64 stress classes."""
        return np.asarray(self.stress, dtype=np.int64)


def text_to_phones(text: str) -> PhoneString:
    """Phones of `text` (one sentence or a few). Raises TextError when there is nothing to pronounce."""
    special = _special_words(text)
    cleaned = encode_text(text, on_unknown="ignore").cleaned
    phones: list[str] = [PAUSE]
    stress: list[int] = [NO_STRESS]
    word_index: list[int] = [-1]
    words: list[str] = []
    for token in _TOKEN.findall(cleaned):
        if not token[0].isalpha():
            if phones[-1] != PAUSE:
                phones.append(PAUSE), stress.append(NO_STRESS), word_index.append(-1)
            continue
        word = token.strip("'")
        cmu = word_phones(word, special.get(word))
        if not cmu:
            continue
        for p in cmu:
            phones.append(normalize_phone(p))
            stress.append(int(p[-1]) if p[-1].isdigit() else NO_STRESS)
            word_index.append(len(words))
        words.append(word)
    if not words:
        raise TextError(f"nothing to pronounce in {text[:40]!r}")
    if phones[-1] != PAUSE:
        phones.append(PAUSE), stress.append(NO_STRESS), word_index.append(-1)
    return PhoneString(tuple(phones), tuple(stress), tuple(words), tuple(word_index))


def word_phones(word: str, raw: str | None = None) -> Phones:
    """CMU phones of one cleaned (lower-case) word; `raw` is how it was written, when that tells more
    (all capitals: an acronym, spelled when the dictionary lacks it; CamelCase: read part by part)."""
    found = lookup(word)
    if found is not None:
        return found
    if raw is not None:
        if raw.isupper():
            return spell(word)
        parts = _CAMEL.findall(raw)
        if len(parts) > 1:
            return tuple(p for part in parts for p in word_phones(part.lower(), part))
    if word.endswith("'s") and len(word) > 2:
        base = word_phones(word[:-2])
        last = base[-1].rstrip("012") if base else ""
        return base + (("IH0", "Z") if last in _SIBILANTS else ("S",) if last in _VOICELESS else ("Z",))
    return pronounce(word.replace("'", ""), spell=True)


def _special_words(text: str) -> dict[str, str]:
    """Lower-case word -> its raw spelling, for words written in capitals or CamelCase."""
    out: dict[str, str] = {}
    for raw in _RAW_WORD.findall(text):
        if len(raw) > 1 and (raw.isupper() or any(c.isupper() for c in raw[1:])):
            out.setdefault(raw.lower(), raw)
    return out
