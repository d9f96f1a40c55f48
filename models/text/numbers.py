"""Number expansion for English text, as the published synthesizer was trained (inflect-based).

Runs on lower-cased ASCII text. Order: thousands separators, pounds, dollars, decimals, ordinals,
remaining integers (years read as "nineteen eighty-four").
"""

from __future__ import annotations

import functools
import re

import inflect

_COMMA_NUMBER = re.compile(r"([0-9][0-9,]+[0-9])")
_POUNDS = re.compile(r"£([0-9,]*[0-9]+)")
_EUROS = re.compile(r"€([0-9,]*[0-9]+)")
_DOLLARS = re.compile(r"\$([0-9.,]*[0-9]+)")
_DECIMAL = re.compile(r"([0-9]+\.[0-9]+)")
_ORDINAL = re.compile(r"[0-9]+(st|nd|rd|th)")
_NUMBER = re.compile(r"[0-9]+")


@functools.lru_cache(maxsize=1)
def _engine() -> inflect.engine:
    return inflect.engine()


def expand_currency_symbols(text: str) -> str:
    """'£12' -> '12 pounds', '€5' -> '5 euros'. Must run *before* transliteration (which turns £ into
    'PS'); the reference ran it after, so its pounds rule never fired."""
    text = _POUNDS.sub(r"\1 pounds", text)
    return _EUROS.sub(r"\1 euros", text)


def _expand_dollars(m: re.Match) -> str:
    match = m.group(1)
    parts = match.split(".")
    if len(parts) > 2:
        return match + " dollars"  # unexpected format
    dollars = int(parts[0]) if parts[0] else 0
    cents = int(parts[1]) if len(parts) > 1 and parts[1] else 0
    dollar_unit = "dollar" if dollars == 1 else "dollars"
    cent_unit = "cent" if cents == 1 else "cents"
    if dollars and cents:
        return f"{dollars} {dollar_unit}, {cents} {cent_unit}"
    if dollars:
        return f"{dollars} {dollar_unit}"
    if cents:
        return f"{cents} {cent_unit}"
    return "zero dollars"


def _expand_ordinal(m: re.Match) -> str:
    return _engine().number_to_words(m.group(0))


def _expand_number(m: re.Match) -> str:
    num = int(m.group(0))
    words = _engine().number_to_words
    if 1000 < num < 3000:
        if num == 2000:
            return "two thousand"
        if 2000 < num < 2010:
            return "two thousand " + words(num % 100)
        if num % 100 == 0:
            return words(num // 100) + " hundred"
        return words(num, andword="", zero="oh", group=2).replace(", ", " ")
    return words(num, andword="")


def normalize_numbers(text: str) -> str:
    """Spell out the numbers of `text`: '$3.50' -> '3 dollars, 50 cents' -> 'three dollars, fifty cents'."""
    text = _COMMA_NUMBER.sub(lambda m: m.group(1).replace(",", ""), text)
    text = expand_currency_symbols(text)
    text = _DOLLARS.sub(_expand_dollars, text)
    text = _DECIMAL.sub(lambda m: m.group(1).replace(".", " point "), text)
    text = _ORDINAL.sub(_expand_ordinal, text)
    return _NUMBER.sub(_expand_number, text)
