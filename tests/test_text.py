"""Text front-end: the reference cleaner example to the character, numbers, reported losses, chunking."""

from __future__ import annotations

import logging

import pytest

from models.text import (
    EOS_ID,
    SYMBOLS,
    TextError,
    encode_text,
    english_cleaners,
    sequence_to_text,
    split_text,
    text_to_sequence,
)

REFERENCE = "Dr. Smith paid $3.50 on May 21st, 1984 for 2,000 apples."
REFERENCE_CLEANED = ("doctor smith paid three dollars, fifty cents on may twenty-first, nineteen eighty-four "
                     "for two thousand apples.")


def test_symbol_table_has_66_symbols_in_published_order():
    assert len(SYMBOLS) == 66
    assert SYMBOLS[:3] == ("_", "~", "A") and SYMBOLS[27] == "Z" and SYMBOLS[28] == "a"
    assert "".join(SYMBOLS[54:]) == "!'\"(),-.:;? "


def test_reference_example_reproduces_exactly():
    assert english_cleaners(REFERENCE) == REFERENCE_CLEANED
    ids = text_to_sequence(REFERENCE)
    assert len(REFERENCE_CLEANED) == 111 and len(ids) == 112
    assert ids[-1] == EOS_ID and sequence_to_text(ids) == REFERENCE_CLEANED + "~"


@pytest.mark.parametrize("text, expected", [
    ("$1", "one dollar"),
    ("$0.01", "one cent"),
    ("$2.05", "two dollars, five cents"),
    ("$0.00", "zero dollars"),
    ("$1,250", "twelve fifty dollars"),  # 1000 < n < 3000 reads like a year, as the model was trained
    ("$3,250", "three thousand, two hundred fifty dollars"),
    ("3.14", "three point fourteen"),
    ("1st 2nd 3rd 22nd 103rd", "first second third twenty-second one hundred and third"),
    ("1900", "nineteen hundred"),
    ("2000 2005 2019", "two thousand two thousand five twenty nineteen"),
    ("1984", "nineteen eighty-four"),
    ("1000 101", "one thousand one hundred one"),
    ("10,000,000", "ten million"),
    ("£12", "twelve pounds"),
    ("£1,000", "one thousand pounds"),
    ("€5", "five euros"),
    ("50% & more", "fifty percent and more"),
])
def test_numbers_currency_ordinals_years(text, expected):
    assert english_cleaners(text) == expected


def test_abbreviations_and_whitespace():
    assert english_cleaners("Mrs.  Jones met\tCapt.  Hook\nat St. Ives, Ltd.") == \
        "misess jones met captain hook at saint ives, limited"  # the abbreviation's '.' is part of it


def test_non_english_is_transliterated_and_losses_are_reported(caplog):
    with caplog.at_level(logging.WARNING, logger="models.text"):
        enc = encode_text("Naïve café, Привет 😀")
    assert enc.cleaned == "naive cafe, privet"
    assert enc.unsupported == ("😀",)
    assert "😀" in caplog.text
    with pytest.raises(TextError, match="cannot be spoken"):
        encode_text("hello 😀", on_unknown="error")


def test_arpabet_is_refused_with_a_message():
    with pytest.raises(TextError, match="ARPAbet"):
        encode_text("Say {HH AH0 L OW1} now")


@pytest.mark.parametrize("text", ["", "   \n\t", "...", "😀😀"])
def test_nothing_to_say_is_an_error(text):
    with pytest.raises(TextError):
        encode_text(text)


def test_split_keeps_every_word_and_bounds_chunks():
    sentence = ("The quick brown fox, who was rather tired; jumped over the lazy dog -- twice -- and then "
                "it ran away into the forest without looking back at all. ")
    run_on = " ".join(["word"] * 70)
    text = (sentence * 150 + run_on + "\n" + "Dr. Smith arrived. He left.") * 1
    assert len(text) > 20_000
    chunks = split_text(text)
    assert all(1 <= len(c.split()) <= 25 for c in chunks)
    assert " ".join(chunks).split() == text.split()  # nothing dropped, order kept


def test_split_does_not_cut_after_abbreviations_and_packs_short_sentences():
    assert split_text("Dr. Smith went home. He said hi.") == ["Dr. Smith went home. He said hi."]
    assert split_text("One.\nTwo.") == ["One.", "Two."]
    assert split_text("   ") == []
