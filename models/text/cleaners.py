"""Text cleaners: the published synthesizer's `english_cleaners` (plus its two simpler siblings).

english_cleaners = currency symbols -> transliteration -> lower case -> numbers -> abbreviations ->
whitespace. The only deliberate differences from the reference are fixes of silent losses: '£'/'€'
amounts are read as pounds/euros, and '%' / '&' are read as 'percent' / 'and' instead of vanishing.
"""

from __future__ import annotations

import re

from unidecode import unidecode

from models.text.numbers import expand_currency_symbols, normalize_numbers

_WHITESPACE = re.compile(r"\s+")
_ABBREVIATIONS = [
    (re.compile(rf"\b{abbr}\.", re.IGNORECASE), full)
    for abbr, full in [
        ("mrs", "misess"), ("mr", "mister"), ("dr", "doctor"), ("st", "saint"), ("co", "company"),
        ("jr", "junior"), ("maj", "major"), ("gen", "general"), ("drs", "doctors"), ("rev", "reverend"),
        ("lt", "lieutenant"), ("hon", "honorable"), ("sgt", "sergeant"), ("capt", "captain"),
        ("esq", "esquire"), ("ltd", "limited"), ("col", "colonel"), ("ft", "fort"),
    ]
]
ABBREVIATIONS = frozenset(p.pattern[2:-2].lower() for p, _ in _ABBREVIATIONS)
_SYMBOL_WORDS = [(re.compile(r"\s*%"), " percent"), (re.compile(r"\s*&\s*"), " and ")]


def expand_abbreviations(text: str) -> str:
    for pattern, full in _ABBREVIATIONS:
        text = pattern.sub(full, text)
    return text


def collapse_whitespace(text: str) -> str:
    return _WHITESPACE.sub(" ", text)


def basic_cleaners(text: str) -> str:
    """Lower case and whitespace only (no transliteration)."""
    return collapse_whitespace(text.lower())


def transliteration_cleaners(text: str) -> str:
    """ASCII transliteration, lower case, whitespace."""
    return collapse_whitespace(unidecode(text).lower())


def english_cleaners(text: str) -> str:
    """The published model's cleaner.

    >>> english_cleaners("Dr. Smith paid $3.50 on May 21st.")
    'doctor smith paid three dollars, fifty cents on may twenty-first.'
    """
    text = expand_currency_symbols(text)
    text = unidecode(text).lower()
    for pattern, words in _SYMBOL_WORDS:
        text = pattern.sub(words, text)
    text = normalize_numbers(text)
    text = expand_abbreviations(text)
    return collapse_whitespace(text)


CLEANERS = {f.__name__: f for f in (english_cleaners, basic_cleaners, transliteration_cleaners)}
