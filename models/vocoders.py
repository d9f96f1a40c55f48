"""Which vocoder a user means: the one resolution shared by `sv2tts clone`, `sv2tts eval` and the API.

A choice is "griffinlim" (also "griffin-lim", "gl"), the name of a vocoder in the model store
(`sv2tts models list`), a weights file, or None: the store's default vocoder (the published WaveRNN
when downloaded, else the first bundled vocoder in manifest order), else Griffin-Lim.
"""

from __future__ import annotations

import logging
from pathlib import Path

from models.checkpoint import CheckpointError
from models.vocoding import Vocoder

log = logging.getLogger(__name__)

GRIFFIN_LIM_NAMES = ("griffinlim", "griffin-lim", "gl")


def resolve_vocoder(choice: str | None, store=None, **wavernn_kwargs) -> Vocoder:
    """Load the vocoder `choice` names (see the module docstring). `store`: a ModelStore (default: the
    user's). `wavernn_kwargs` (precision, schedule, rows) apply to a WaveRNN only.
    Raises CheckpointError (one line for the user) for a missing or unusable file."""
    from models.griffinlim import GriffinLim

    if choice is not None and choice.lower() in GRIFFIN_LIM_NAMES:
        return GriffinLim()
    if store is None:
        from models.store import ModelStore

        store = ModelStore()
    if choice is None:
        from models.store import CorruptModelError

        try:
            path = store.default("vocoder")
        except CorruptModelError:  # a damaged download is reported, never replaced by Griffin-Lim
            raise
        except CheckpointError:  # nothing of kind vocoder present (or a broken manifest)
            log.warning("no neural vocoder installed (see `sv2tts models`); using Griffin-Lim")
            return GriffinLim()
    elif choice in {e.name for e in store.entries() if e.kind == "vocoder"} and not Path(choice).is_file():
        path = store.get(choice)
    else:
        path = Path(choice)
        if not path.is_file():
            names = ", ".join(["griffinlim"] + [e.name for e in store.entries() if e.kind == "vocoder"])
            raise CheckpointError(f"{choice}: no such vocoder file or name (names: {names})")
    return load_vocoder_file(path, **wavernn_kwargs)


def load_vocoder_file(path: Path, **wavernn_kwargs) -> Vocoder:
    """A vocoder from its weights file, by file kind (models.vocoder.load_vocoder): the iSTFT vocoder
    or a WaveRNN (published .pt or our safetensors)."""
    try:
        from models.vocoder import load_vocoder
    except ImportError:
        raise CheckpointError(f"{path}: neural vocoders are not available in this build; "
                              "use --vocoder griffinlim") from None
    return load_vocoder(path, **wavernn_kwargs)


def vocoder_names(store) -> list[str]:
    """Every vocoder a user can pick: the manifest's vocoders present locally, then Griffin-Lim."""
    return [e.name for e in store.entries() if e.kind == "vocoder" and store.path(e.name)] + ["griffinlim"]


def vocoder_label(choice: str | None, vocoder: Vocoder) -> str:
    """How reports name a resolved vocoder: the user's choice, or 'default (ClassName)'."""
    return choice if choice is not None else f"default ({type(vocoder).__name__})"
