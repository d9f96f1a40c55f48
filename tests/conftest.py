"""Shared fixtures. Qt runs headless; ../shared data is optional (tests skip without it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
LIBRISPEECH = SHARED / "data" / "librispeech"
STATE_DICTS = SHARED / "docs" / "rtvc-state-dicts.json"


def require_shared(path: Path = LIBRISPEECH) -> Path:
    if not path.exists():
        pytest.skip(f"shared material not available ({path} is absent)")
    return path


@pytest.fixture(scope="session")
def librispeech() -> Path:
    return require_shared(LIBRISPEECH)


@pytest.fixture(scope="session")
def state_dict_layouts() -> dict:
    import json

    return json.loads(require_shared(STATE_DICTS).read_text())
