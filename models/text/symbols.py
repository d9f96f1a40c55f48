"""The published synthesizer's 66-symbol table (IDs are positions in :data:`SYMBOLS`)."""

from __future__ import annotations

PAD = "_"
EOS = "~"
_PUNCTUATION = "!'\"(),-.:;? "
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

SYMBOLS: tuple[str, ...] = (PAD, EOS, *_LETTERS, *_PUNCTUATION)
PAD_ID = 0
EOS_ID = 1
SYMBOL_TO_ID: dict[str, int] = {s: i for i, s in enumerate(SYMBOLS)}
# Characters a user may write: everything but the two control symbols.
SPEAKABLE = frozenset(SYMBOLS[2:])

assert len(SYMBOLS) == 66 and SYMBOL_TO_ID[" "] == 65
