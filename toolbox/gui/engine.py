"""The model layer as the GUI worker sees it: choices, lazy loading, embed, synthesize, vocode.

:class:`Engine` is the protocol the :class:`~toolbox.gui.worker.ModelWorker` drives. Everything in
it runs on the worker thread, never on the GUI thread. :class:`StoreEngine` is the real one, fed by
the model store; tests inject :class:`toolbox.gui.testing.FakeEngine` or a StoreEngine with
in-memory models.

Callbacks follow :mod:`models.vocoding`: ``progress(fraction 0..1, message)``; ``cancel`` is a
``threading.Event``; a cancelled call raises :class:`models.vocoding.Cancelled` (the worker's progress
callback raises it too, so even a model that never looks at `cancel` stops at its next report).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

GRIFFIN_LIM = "Griffin-Lim"
KINDS = ("encoder", "synthesizer", "vocoder")
DEFAULT_VOICE_MATCH = 0.0  # models.synthesizer.voice_match.DEFAULT_STRENGTH: off (not imported: loads torch)
MAX_RECORDINGS = 8  # recordings kept for voice match (the oldest is forgotten first)
MAX_MATCH_SAMPLES = 90 * 16_000  # of each, the first 90 s (voice match searches at most 60 s of speech)
Progress = Callable[[float, str], None]
Cancel = threading.Event


class Engine(Protocol):
    def choices(self) -> dict[str, list[str]]:
        """kind -> model names offered in the pickers (the vocoder list includes Griffin-Lim)."""

    def defaults(self) -> dict[str, str]:
        """kind -> name preselected in the pickers."""

    def select(self, kind: str, name: str) -> None:
        """Use `name` for `kind` from now on; it is loaded lazily by the next call needing it."""

    def ensure(self, kind: str) -> str:
        """Load the selected `kind` now if needed; returns a short description for the status."""

    def embed(self, wav: np.ndarray) -> np.ndarray:
        """(L,) 16 kHz float32 -> (256,) float32 unit-norm speaker embedding."""

    def split(self, text: str) -> list[str]:
        """Text (any number of lines/sentences) -> the chunks synthesized one at a time.
        Raises models.text.TextError when there is nothing to say."""

    def synthesize(self, texts: list[str], embedding: np.ndarray, *, seed: int | None, progress: Progress,
                   cancel: Cancel, speed: float | None = None, pitch_shift: float | None = None,
                   voice_match: float | None = None) -> list[np.ndarray]:
        """Chunks -> list of (80, T) mels in [-4, 4], one per chunk. `speed` (0.25..4, >1 faster),
        `pitch_shift` (semitones, -12..12) and `voice_match` (0..1, toward the recording `embedding` was
        made from) apply to this call; None leaves the synthesizer as it is."""

    def supports_controls(self) -> bool:
        """Whether the selected synthesizer has speed, pitch and voice match controls (the demo one does)."""

    def vocode(self, mel: np.ndarray, *, seed: int | None, progress: Progress,
               cancel: Cancel) -> Iterator[np.ndarray]:
        """(80, T) mel -> (n,) float32 16 kHz chunks, yielded as they are produced."""


class StoreEngine:
    """The real models, found by :class:`models.store.ModelStore` and loaded on first use.

    `loaders` may override how a kind is built from a file (kind -> callable(path) -> model), and
    `models` may hand in ready-made instances (kind -> (name, model)), e.g. random-weight networks
    for tests; `factories` (kind -> (name, zero-argument callable)) are built lazily on the worker
    thread like files are (the benchmark uses them).
    """

    def __init__(self, store=None, device: str = "cpu",
                 models: dict[str, tuple[str, object]] | None = None,
                 factories: dict[str, tuple[str, Callable[[], object]]] | None = None) -> None:
        if store is None:
            from models.store import ModelStore

            store = ModelStore()
        self.store = store
        self.device = device
        self._given: dict[str, tuple[str, object]] = dict(models or {})
        self._factories = dict(factories or {})
        for kind, (name, _) in self._factories.items():
            self._given.setdefault(kind, (name, None))
        self._selected: dict[str, str] = {}
        self._loaded: dict[str, tuple[str, object]] = {}
        self._pipeline = None
        # Voice match: the recordings embedded so far (by their embedding's bytes), and the reference
        # frames of those synthesized with, computed on first use (alignment takes a second or two).
        self._recordings: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._frames: dict[bytes, object] = {}
        for kind, name in self.defaults().items():
            self._selected[kind] = name

    # -- choices -------------------------------------------------------------------------------------
    def choices(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {k: [] for k in KINDS}
        for kind, (name, _) in self._given.items():
            out[kind].append(name)
        try:
            for e in self.store.entries():
                if e.kind in out and e.name not in out[e.kind]:
                    out[e.kind].append(e.name)
        except Exception as e:  # a broken manifest must not stop the window
            log.warning("model store unavailable: %s", e)
        out["vocoder"].append(GRIFFIN_LIM)
        return out

    def available(self, name: str) -> bool:
        if any(name == n for n, _ in self._given.values()) or name == GRIFFIN_LIM:
            return True
        try:
            return self.store.path(name) is not None
        except Exception:
            return False

    def missing(self) -> dict[str, str]:
        """name -> how to get it, for offered models that are not on disk."""
        out = {}
        try:
            for e in self.store.entries():
                if not self.available(e.name):
                    try:
                        self.store.installed(e.name)  # raises when a file is there but corrupt
                        out[e.name] = f"Not downloaded: {e.how_to_get()}"
                    except Exception as bad:  # noqa: BLE001 - reported in the status area, never skipped
                        out[e.name] = f"Damaged: {bad}"
        except Exception as e:
            log.debug("cannot list missing models: %s", e)
        return out

    def defaults(self) -> dict[str, str]:
        out = {}
        for kind, names in self.choices().items():
            ready = [n for n in names if self.available(n)]
            preferred = [n for n in ready if n == kind]  # the published model is named after its kind
            pick = (preferred or ready or names or [""])[0]
            out[kind] = pick
        return out

    def select(self, kind: str, name: str) -> None:
        if self._selected.get(kind) != name:
            self._selected[kind] = name
            self._loaded.pop(kind, None)
            self._pipeline = None

    # -- loading -------------------------------------------------------------------------------------
    def ensure(self, kind: str) -> str:
        self._model(kind)
        return f"{kind} {self._selected[kind]}"

    def _model(self, kind: str):
        name = self._selected.get(kind, "")
        if kind in self._loaded and self._loaded[kind][0] == name:
            return self._loaded[kind][1]
        given = self._given.get(kind)
        if given is not None and given[0] == name:
            model = given[1]
            if model is None:
                model = self._factories[kind][1]()
        elif kind == "vocoder" and name == GRIFFIN_LIM:
            from models.griffinlim import GriffinLim

            model = GriffinLim()
        else:
            model = self._load_file(kind, self.store.get(name))
        if kind == "vocoder":
            _warm_vocoder(model)
        self._loaded[kind] = (name, model)
        self._pipeline = None
        return model

    def _load_file(self, kind: str, path: Path):
        log.info("loading %s from %s", kind, path)
        if kind == "encoder":
            from models.encoder import SpeakerEncoder

            return SpeakerEncoder.from_file(path, self._device())
        if kind == "synthesizer":
            from models.synthesizer import load_synthesizer

            return load_synthesizer(path)
        from models.vocoder import load_vocoder

        return load_vocoder(path)

    def _device(self) -> str:
        """"auto" picks CUDA when present, resolved here on the worker thread (importing torch to ask
        would delay the window by seconds)."""
        if self.device == "auto":
            import torch

            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    # -- inference -----------------------------------------------------------------------------------
    def embed(self, wav: np.ndarray) -> np.ndarray:
        embedding = np.asarray(self._model("encoder").embed_utterance(wav), dtype=np.float32)
        key = embedding.tobytes()
        self._recordings[key] = np.array(wav[:MAX_MATCH_SAMPLES], dtype=np.float32)  # a copy: not the whole clip
        self._recordings.move_to_end(key)
        while len(self._recordings) > MAX_RECORDINGS:
            old, _ = self._recordings.popitem(last=False)
            self._frames.pop(old, None)
        return embedding

    def _reference(self, embedding: np.ndarray):
        """The voice-match frames of the recording `embedding` came from (None: not embedded here)."""
        key = np.asarray(embedding, dtype=np.float32).tobytes()
        pipeline = self._pipe()
        if key not in self._recordings or float(getattr(pipeline.synthesizer, "voice_match", 0.0)) <= 0.0:
            return None
        if key not in self._frames:
            self._frames[key] = pipeline.reference_frames(self._recordings[key])
        return self._frames[key]

    def _pipe(self):
        """The shared text splitting and synthesis of models.pipeline (the vocoder is used directly)."""
        synthesizer = self._model("synthesizer")
        if self._pipeline is None or self._pipeline.synthesizer is not synthesizer:
            from models.griffinlim import GriffinLim
            from models.pipeline import Pipeline

            self._pipeline = Pipeline(None, synthesizer, GriffinLim())
        return self._pipeline

    def split(self, text: str) -> list[str]:
        from models.pipeline import text_chunks

        return text_chunks(text)

    def synthesize(self, texts, embedding, *, seed, progress, cancel, speed=None, pitch_shift=None,
                   voice_match=None):
        pipeline = self._pipe()
        with pipeline.controls(voice_match=voice_match):
            return list(pipeline.synthesize(list(texts), embedding, seed=seed, progress=progress, cancel=cancel,
                                            speed=speed, pitch_shift=pitch_shift,
                                            reference=self._reference(embedding)))

    def supports_controls(self) -> bool:
        """From the loaded model, else from the file's header (without loading it or importing torch)."""
        name = self._selected.get("synthesizer", "")
        known = self._loaded.get("synthesizer") or self._given.get("synthesizer")
        if known is not None and known[0] == name:
            model = known[1]
            return model is not None and hasattr(model, "speed") and hasattr(model, "pitch_shift")
        try:
            path = self.store.path(name)
        except Exception as e:  # a broken manifest: say no, generation reports the problem
            log.debug("no synthesizer file for %s: %s", name, e)
            return False
        return path is not None and safetensors_kind(Path(path)) == PHONE_SYNTHESIZER

    def vocode(self, mel, *, seed, progress, cancel):
        """Audio chunks of a mel the synthesizer made (the toolbox vocodes no other)."""
        from models.guard import check_finite
        from models.vocoding import synthesized_input

        vocoder = self._model("vocoder")
        mel = synthesized_input(mel, vocoder)
        source = getattr(vocoder, "source", None) or f"the {self._selected.get('vocoder')} vocoder"
        if hasattr(vocoder, "stream"):
            for chunk in vocoder.stream(mel, seed=seed, progress=progress, cancel=cancel):
                yield check_finite(chunk, "audio", source)  # a damaged model is named, not played
        else:
            yield check_finite(vocoder.vocode(mel, seed=seed, progress=progress, cancel=cancel), "audio", source)


PHONE_SYNTHESIZER = "phone-synthesizer"  # models.synthesizer.phone_synthesizer.KIND (has speed and pitch)


def safetensors_kind(path: Path) -> str | None:
    """The model kind in one of our .safetensors headers, read without safetensors or torch (None when
    the file is not one of ours)."""
    import json

    if path.suffix != ".safetensors":
        return None
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n < 100_000_000:
                return None
            header = json.loads(f.read(n))
        return (header.get("__metadata__") or {}).get("kind")
    except (OSError, ValueError, AttributeError) as e:
        log.debug("cannot read the header of %s: %s", path, e)
        return None


def _warm_vocoder(vocoder) -> None:
    """Run the vocoder once on a tiny mel so its numba kernels (librosa's for Griffin-Lim, the fused
    WaveRNN step) compile and oneDNN picks its kernels now (at load time, with a visible status)
    rather than mid-generation, where compiling holds the GIL for ~0.5 s and stalls the window."""
    try:
        vocoder.vocode(np.zeros((80, 8), np.float32) - 4.0, seed=0)
    except Exception as e:  # warming up is an optimisation only
        log.debug("Griffin-Lim warm-up failed: %s", e)
