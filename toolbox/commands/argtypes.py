"""argparse value types shared by the subcommands: a bad value is a usage error (one line, exit 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

MAX_SEED = 2**31 - 1  # the synthesizers draw seeds in [0, 2^31) and add the sentence index


def seed_type(value: str) -> int:
    """A sampling seed: an integer in [0, 2^31 - 1]."""
    try:
        seed = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{seed} is outside 0..{MAX_SEED}")
    return seed


def positive_int(value: str) -> int:
    """An integer >= 1 (thread counts, sizes)."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} must be at least 1")
    return n


def within(low: float, high: float) -> Callable[[str], float]:
    """A number in [low, high] (the synthesizer controls)."""

    def parse(value: str) -> float:
        try:
            x = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        if not low <= x <= high:
            raise argparse.ArgumentTypeError(f"{x:g} is outside {low:g}..{high:g}")
        return x

    return parse
