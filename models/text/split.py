"""Split long text into chunks the synthesizer handles well (about 20-25 words each).

Text is cut at line breaks and sentence ends first; consecutive short sentences are packed together up
to `target_words`; a sentence longer than `max_words` is cut at clause punctuation (, ; : -- ( )) and,
failing that, between words. No word is ever dropped: joining the chunks' words gives the input's words.
"""

from __future__ import annotations

import re

from models.text.cleaners import ABBREVIATIONS

_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
# Whitespace after , ; : ) -- - or before ( — ; only whitespace is consumed, so nothing is lost.
_CLAUSE_END = re.compile(r"(?<=[,;:)\u2014])\s+|(?<=\s--)\s+|(?<=\s-)\s+|\s+(?=[(\u2014])")
MAX_WORD_CHARS = 60  # a "word" longer than this (e.g. a pasted URL) is cut into pieces


def split_text(text: str, target_words: int = 20, max_words: int = 25) -> list[str]:
    """Split `text` into chunks of at most `max_words` words (and sentences packed up to `target_words`).

    Returns a list of stripped, non-empty strings; an empty list for empty/whitespace input.
    """
    chunks: list[str] = []
    for line in text.splitlines():
        pending: list[str] = []  # words of sentences being packed together
        for sentence in _sentences(line):
            words = sentence.split()
            if pending and len(pending) + len(words) > target_words:
                chunks.append(" ".join(pending))
                pending = []
            if len(words) > max_words:
                chunks.extend(_split_long(sentence, target_words, max_words))
            else:
                pending.extend(words)
        if pending:
            chunks.append(" ".join(pending))
    return chunks


def _sentences(line: str) -> list[str]:
    """Cut at sentence ends, but not after an abbreviation ('Dr.') or a single initial ('J.')."""
    out: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(line):
        last_word = line[start:m.start()].split()[-1:] or [""]
        token = last_word[0].rstrip(".").lower()
        if token in ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
            continue
        out.append(line[start:m.end()])
        start = m.end()
    out.append(line[start:])
    return [_cut_long_words(s.strip()) for s in out if s.strip()]


def _cut_long_words(sentence: str) -> str:
    words = []
    for w in sentence.split():
        words.extend(w[i:i + MAX_WORD_CHARS] for i in range(0, len(w), MAX_WORD_CHARS))
    return " ".join(words)


def _split_long(sentence: str, target_words: int, max_words: int) -> list[str]:
    """Cut one over-long sentence at clause boundaries, then between words."""
    clauses = [c for c in _CLAUSE_END.split(sentence) if c and c.strip()]
    chunks: list[str] = []
    current: list[str] = []
    for clause in clauses:
        words = clause.split()
        if current and len(current) + len(words) > max_words:
            chunks.append(" ".join(current))
            current = []
        current.extend(words)
        while len(current) > max_words:  # a clause without punctuation: cut evenly between words
            n_parts = -(-len(current) // target_words)
            size = -(-len(current) // n_parts)
            chunks.append(" ".join(current[:size]))
            current = current[size:]
    if current:
        chunks.append(" ".join(current))
    return chunks
