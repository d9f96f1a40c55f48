"""Which vocoder to use, from a user's choice: one function for the CLI, the GUI and the API.

A choice is None (the default), "griffinlim", a model name from the manifest (e.g. "vocoder" for the
published WaveRNN, "demo-vocoder" for the bundled iSTFT vocoder), or a weights file path.
"""

from __future__ import annotations

import logging
from pathlib import Path

from models.checkpoint import CheckpointError

log = logging.getLogger(__name__)

GRIFFIN_LIM = "griffinlim"
GRIFFIN_LIM_ALIASES = (GRIFFIN_LIM, "griffin-lim", "gl")


def is_griffin_lim(choice: str | None) -> bool:
    return choice is not None and choice.lower() in GRIFFIN_LIM_ALIASES


def open_vocoder(choice: str | None = None, store=None, **wavernn_kwargs):
    """A `models.vocoding.Vocoder` for `choice`.

    None: the published WaveRNN when downloaded, else the first bundled vocoder of the manifest (the
    iSTFT vocoder), else Griffin-Lim (with a warning). A manifest name must be present locally.
    `wavernn_kwargs` (precision, schedule, ...) apply to WaveRNN only.

    Raises:
        CheckpointError: an unknown name, a missing file, or a file that is not a vocoder.
    """
    from models.vocoder import load_vocoder

    if is_griffin_lim(choice):
        return _griffin_lim()
    if store is None:
        from models.store import ModelStore

        store = ModelStore()
    if choice is None:
        from models.store import ModelMissingError

        try:
            path = store.default("vocoder")
        except ModelMissingError:
            log.warning("no neural vocoder installed (see `sv2tts models`); using Griffin-Lim")
            return _griffin_lim()
    elif Path(choice).suffix in (".pt", ".safetensors") or Path(choice).is_file():
        path = Path(choice)
    else:
        names = [e.name for e in store.entries() if e.kind == "vocoder"]
        if choice not in names:
            raise CheckpointError(f"unknown vocoder {choice!r}: use {GRIFFIN_LIM!r}, a weights file, or one of "
                                  f"{', '.join(names)}")
        path = store.get(choice)
    return load_vocoder(path, **wavernn_kwargs)


def vocoder_names(store) -> list[str]:
    """Every vocoder a user can pick: the manifest's vocoders present locally, then Griffin-Lim."""
    return [e.name for e in store.entries() if e.kind == "vocoder" and store.path(e.name)] + [GRIFFIN_LIM]


def _griffin_lim():
    from models.griffinlim import GriffinLim

    return GriffinLim()
