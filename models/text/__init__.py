"""Text front-end of the synthesizer: cleaning, the 66-symbol table, encoding to IDs, chunking.

    >>> encode_text("Dr. Smith paid $3.50.").cleaned
    'doctor smith paid three dollars, fifty cents.'

Unlike the reference, nothing is lost silently: characters that cannot be spoken are reported
(`EncodedText.unsupported`, a warning, or a :class:`TextError` with ``on_unknown="error"``), and
ARPAbet in braces, which the published symbol table cannot represent, is refused with a message.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from unidecode import unidecode

from models.text.cleaners import CLEANERS, collapse_whitespace, english_cleaners
from models.text.numbers import normalize_numbers
from models.text.split import split_text
from models.text.symbols import EOS_ID, PAD_ID, SPEAKABLE, SYMBOL_TO_ID, SYMBOLS

log = logging.getLogger(__name__)

__all__ = [
    "EOS_ID", "PAD_ID", "SYMBOLS", "EncodedText", "TextError", "encode_text", "english_cleaners",
    "normalize_numbers", "sequence_to_text", "split_text", "text_to_sequence",
]

_ARPABET = re.compile(r"\{[^{}]*\}")
# Characters the cleaners turn into words, so they are not "unsupported" in the raw text.
_EXPANDED = frozenset("0123456789$£€%&")


class TextError(ValueError):
    """Text that cannot be synthesized, with a message meant for the user."""


@dataclass(frozen=True)
class EncodedText:
    """ids: symbol IDs ending with EOS; cleaned: the text they spell; unsupported: dropped characters."""

    ids: tuple[int, ...]
    cleaned: str
    unsupported: tuple[str, ...]


def encode_text(text: str, cleaner: str = "english_cleaners",
                on_unknown: Literal["warn", "error", "ignore"] = "warn") -> EncodedText:
    """Clean `text` and map it to symbol IDs (EOS appended).

    Raises:
        TextError: ARPAbet in braces, nothing speakable left, or (with on_unknown="error")
            characters that cannot be spoken.
    """
    if cleaner not in CLEANERS:
        raise TextError(f"unknown cleaner {cleaner!r}; valid: {', '.join(CLEANERS)}")
    arpabet = _ARPABET.search(text)
    if arpabet:
        raise TextError(
            f"ARPAbet in braces ({arpabet.group(0)!r}) is not supported: the published synthesizer "
            "only knows letters and punctuation. Write the word as it is spelled or sounds."
        )
    cleaned = CLEANERS[cleaner](text).strip()
    unsupported = _unsupported_characters(text, cleaned)
    if unsupported:
        listing = " ".join(repr(c) for c in unsupported)
        if on_unknown == "error":
            raise TextError(f"characters that cannot be spoken: {listing}")
        if on_unknown == "warn":
            log.warning("skipping characters that cannot be spoken: %s", listing)
    spoken = collapse_whitespace("".join(c for c in cleaned if c in SPEAKABLE)).strip()
    if not any(c.isalpha() for c in spoken):
        raise TextError("there is no text to speak (only punctuation or unsupported characters)"
                        if text.strip() else "the text is empty")
    ids = tuple(SYMBOL_TO_ID[c] for c in spoken)
    return EncodedText(ids=(*ids, EOS_ID), cleaned=spoken, unsupported=unsupported)


def text_to_sequence(text: str, cleaner: str = "english_cleaners") -> list[int]:
    """IDs of `text` after cleaning, ending with EOS (1). Unsupported characters are logged."""
    return list(encode_text(text, cleaner).ids)


def sequence_to_text(ids: list[int] | tuple[int, ...]) -> str:
    """Inverse of the symbol mapping (pad and EOS are shown as '_' and '~')."""
    return "".join(SYMBOLS[i] for i in ids)


def _unsupported_characters(raw: str, cleaned: str) -> tuple[str, ...]:
    """Raw characters whose transliteration is empty or unspeakable, then leftovers of the cleaning."""
    found: dict[str, None] = {}
    for c in raw:
        if c.isspace() or c in SPEAKABLE or c in _EXPANDED:
            continue
        t = unidecode(c).lower()
        if not t.strip() or any(ch not in SPEAKABLE and not ch.isspace() for ch in t):
            found[c] = None
    for c in cleaned:
        if c not in SPEAKABLE and c not in found and not any(unidecode(r) == c for r in found):
            found[c] = None
    return tuple(found)
