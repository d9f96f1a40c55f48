"""A deterministic generator of phonetically varied English sentences for synthetic corpora.

All word lists and templates are written for this project. Together they cover every English
phoneme in many contexts (clusters like "str", "spl", "thr"; "th" voiced and unvoiced; "zh" in
"measure"; diphthongs; nasals and liquids at word ends), and the templates vary sentence length,
questions, exclamations, lists and numbers, so the synthesizer sees varied prosody.
"""

from __future__ import annotations

import random
import re

_NAMES = ["Martha", "Joseph", "Eileen", "Victor", "Ursula", "Theodore", "Gwendolyn", "Oscar", "Beatrice",
          "Hugo", "Yvonne", "Ezekiel", "Priya", "Kwame", "Jasmine", "Rupert", "Zachary", "Chloe", "Norbert",
          "Imogen", "Fiona", "Desmond", "Agatha", "Quentin", "Louisa", "Bartholomew", "Winifred", "Ahmed"]
_ADJECTIVES = ["quiet", "enormous", "shiny", "thoughtful", "crooked", "gentle", "brave", "yellow", "ancient",
               "smooth", "thirsty", "clumsy", "peculiar", "fragrant", "vivid", "rough", "cheerful", "jagged",
               "zealous", "humble", "wooden", "frozen", "bright", "soggy", "exquisite", "unusual", "sturdy",
               "measured", "leisurely", "noisy", "velvet", "orange", "whispering", "awkward", "splendid"]
_NOUNS = ["teacher", "bicycle", "lantern", "orchestra", "giraffe", "kettle", "blacksmith", "umbrella", "village",
          "thunderstorm", "library", "pebble", "squirrel", "voyage", "treasure", "journey", "chimney",
          "engineer", "sculpture", "harbour", "necklace", "pumpkin", "whistle", "garage", "oyster", "rhythm",
          "telescope", "zebra", "waterfall", "shepherd", "cathedral", "mushroom", "passenger", "yacht",
          "thistle", "puzzle", "hedgehog", "tortoise", "judge", "choir", "leisure", "azure kite", "scarecrow"]
_PLACES = ["the old mill", "a crowded market", "the northern shore", "the station platform", "a misty valley",
           "the top of the stairs", "the quiet suburbs", "a sunny courtyard", "the edge of the forest",
           "the museum of clocks", "a narrow alley", "the kitchen garden", "the frozen lake", "the riverbank",
           "a busy airport", "the school playground", "the lighthouse", "a shabby workshop", "the orchard"]
_VERBS_PAST = ["carried", "painted", "discovered", "borrowed", "repaired", "measured", "dropped", "juggled",
               "photographed", "polished", "chased", "abandoned", "examined", "squeezed", "delivered",
               "whispered to", "wrapped", "stretched", "splashed", "thanked", "rescued", "weighed", "sketched",
               "shovelled", "hugged", "vanished with", "bought", "knitted", "searched for", "threw"]
_VERBS_BASE = ["carry", "paint", "find", "borrow", "repair", "measure", "juggle", "photograph", "polish",
               "examine", "deliver", "wrap", "stretch", "rescue", "weigh", "sketch", "buy", "knit", "throw"]
_ADVERBS = ["slowly", "eagerly", "carefully", "suddenly", "cheerfully", "quietly", "awkwardly", "boldly",
            "gracefully", "reluctantly", "loudly", "thoroughly", "nervously", "patiently", "joyfully"]
_TIMES = ["yesterday morning", "at midnight", "before breakfast", "every Thursday", "last autumn",
          "during the storm", "on a Sunday afternoon", "after the concert", "in early June", "at dawn",
          "three weeks ago", "around noon", "while it was snowing", "on New Year's Eve"]
_NUMBERS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
            "fifteen", "twenty", "thirty-one", "forty-six", "fifty", "sixty-eight", "ninety-nine",
            "a hundred", "a thousand"]
_FEELINGS = ["delighted", "puzzled", "exhausted", "furious", "relieved", "astonished", "jealous", "anxious",
             "thrilled", "bored", "grateful", "curious"]

_TEMPLATES = [
    "{Name} {verb_past} the {adj} {noun} {time}.",
    "The {adj} {noun} was found near {place} {time}.",
    "Why did {Name} {verb_base} the {noun} so {adverb}?",
    "{Name} and {Name2} {adverb} {verb_past} {number} {adj} {noun}s near {place}.",
    "If you {verb_base} the {noun}, {Name} will be {feeling}.",
    "There were {number} {noun}s in {place}, and every one of them looked {adj}.",
    "Please {verb_base} the {adj} {noun} before {Name} arrives.",
    "{Time}, a {adj} {noun} {verb_past} a {adj2} {noun2} at {place}.",
    "Have you ever seen a {noun} as {adj} as this one?",
    "What a {adj} {noun}! {Name} exclaimed, feeling {feeling}.",
    "{Name} felt {feeling} when the {noun} {verb_past} the {noun2}.",
    "We need a {noun}, a {noun2}, and {number} {adj} {noun3}s.",
    "Nobody knew whether the {noun} or the {noun2} would reach {place} first.",
    "It took {number} minutes to {verb_base} the {adj} {noun} {adverb}.",
    "Although it was {adj}, the {noun} {adverb} {verb_past} the {noun2}.",
    "The {noun} at {place} is {adj}, but the {noun2} is even more {adj2}.",
]


def _fill(template: str, rng: random.Random) -> str:
    def pick(words: list[str], n: int) -> list[str]:
        return rng.sample(words, n)

    names, adjs, nouns = pick(_NAMES, 2), pick(_ADJECTIVES, 2), pick(_NOUNS, 3)
    time = rng.choice(_TIMES)
    values = {
        "Name": names[0], "Name2": names[1], "adj": adjs[0], "adj2": adjs[1], "noun": nouns[0],
        "noun2": nouns[1], "noun3": nouns[2], "verb_past": rng.choice(_VERBS_PAST),
        "verb_base": rng.choice(_VERBS_BASE), "adverb": rng.choice(_ADVERBS), "place": rng.choice(_PLACES),
        "time": time, "Time": time[0].upper() + time[1:], "number": rng.choice(_NUMBERS),
        "feeling": rng.choice(_FEELINGS),
    }
    text = template.format(**values)
    text = re.sub(r"\b([Aa]) ([aeiouAEIOU])", lambda m: f"{m.group(1)}n {m.group(2)}", text)  # a -> an
    return text[0].upper() + text[1:]


def generate_sentences(n: int, seed: int = 0) -> list[str]:
    """`n` distinct sentences, the same list for the same (n, seed); each 5 to ~20 words.

    Raises:
        ValueError: n is larger than the generator can make distinct (about 10^6).
    """
    rng = random.Random(f"sentences-{seed}")
    seen: dict[str, None] = {}
    attempts = 0
    while len(seen) < n:
        attempts += 1
        if attempts > 20 * n + 1000:
            raise ValueError(f"cannot generate {n} distinct sentences")
        seen.setdefault(_fill(rng.choice(_TEMPLATES), rng), None)
    return list(seen)
