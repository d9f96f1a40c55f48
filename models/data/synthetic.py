"""A multi-speaker synthetic speech corpus from the installed speech engines (flite, espeak-ng).

Layout written by :func:`build_corpus` (the "generic" dataset layout)::

    OUT/speakers.json                 the recipe of every speaker (see SpeakerRecipe)
    OUT/<speaker>/<speaker>_<NNNN>.wav    16 kHz mono 16-bit PCM
    OUT/<speaker>/<speaker>_<NNNN>.txt    the transcript (one line)
    OUT/<speaker>/<speaker>_<NNNN>.phones.json   flite only: [[phone, start_s, end_s], ...]

Speaker variety comes from the engine voice, the mean pitch, the speaking rate and a vocal-tract
length (VTL) factor ``vtl``. VTL scaling is done by resampling: audio synthesised at 16 kHz is
read as if it were recorded at ``16000 * vtl`` Hz and resampled to 16 kHz, which multiplies every
frequency (formants and pitch) by ``vtl`` and divides the duration by ``vtl``. To keep the recipe's
pitch and rate, the engine is asked for ``pitch / vtl`` and ``duration * vtl`` beforehand, so only
the formants move. flite takes the mean F0 in Hz (``int_f0_target_mean``) and a duration stretch, so
the correction is exact (except for the rms voice, which ignores the F0 setting: its recipe
pitch is then 101 Hz * vtl, what it really gets). espeak-ng's pitch is a 0-99 setting rather than
Hz, so for espeak-ng only the rate is corrected and its pitch also moves by ``vtl``.

espeak-ng prints phoneme timings only for MBROLA voices (``--pho``), which we do not use, so
espeak-ng utterances have no ``.phones.json``.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from models import audio
from models.data.sentences import generate_sentences
from models.text.phones import parse_psdur

log = logging.getLogger(__name__)

ENGINES = ("flite", "espeak-ng")
FORMAT_VERSION = 1

# flite voices with their natural mean F0 (Hz). kal (8 kHz) and awb_time (limited domain) are left out.
FLITE_VOICES = {"slt": 170.0, "rms": 101.0, "awb": 115.0, "kal16": 100.0}
FLITE_FIXED_PITCH = {"rms"}  # ignores int_f0_target_mean: its pitch is 101 Hz * vtl
ESPEAK_VOICES = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-gb-x-gbclan")
ESPEAK_VARIANTS = ("", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+f1", "+f2", "+f3", "+f4", "+f5")


class EngineError(RuntimeError):
    """A speech engine is missing or failed; the message names it."""


@dataclass(frozen=True)
class SpeakerRecipe:
    """How one synthetic speaker is made.

    engine: "flite" or "espeak-ng"; voice: the engine's voice name (espeak-ng: "en-us+f3").
    pitch: flite mean F0 in Hz, espeak-ng pitch setting 0-99.
    rate: duration stretch (>1 is slower). vtl: vocal-tract factor (>1 raises formants: shorter tract).
    """

    id: str
    engine: str
    voice: str
    pitch: float
    rate: float
    vtl: float


def available_engines() -> list[str]:
    return [e for e in ENGINES if shutil.which(e)]


def make_recipes(n_speakers: int, engines: list[str], seed: int = 0) -> list[SpeakerRecipe]:
    """`n_speakers` distinct recipes cycling through `engines`, the same list for the same arguments.

    Speakers that share a flite voice get well separated VTL factors and pitches: the k-th speaker of
    a voice takes point k of a golden-ratio sequence over each range (random start per voice), plus
    a little jitter, instead of independent draws that may land close together. The first n recipes
    do not depend on `n_speakers`, so a corpus can grow.
    """
    for e in engines:
        if e not in ENGINES:
            raise ValueError(f"unknown engine {e!r}; valid engines: {', '.join(ENGINES)}")
    rng = random.Random(f"speakers-{seed}")
    offsets = {v: (random.Random(f"{seed}-{v}").random(), random.Random(f"{seed}-{v}-f0").random())
               for v in FLITE_VOICES}
    recipes = []
    for i in range(n_speakers):
        engine = engines[i % len(engines)]
        u_vtl, u_pitch, jitter = rng.random(), rng.random(), rng.uniform(-0.01, 0.01)
        if engine == "flite":
            n = i // len(engines)
            voice = list(FLITE_VOICES)[n % len(FLITE_VOICES)]
            k = n // len(FLITE_VOICES)  # how many speakers of this voice came before
            u_vtl = (offsets[voice][0] + k * 0.618034) % 1.0
            u_pitch = (offsets[voice][1] + k * 0.381966) % 1.0
            pitch = FLITE_VOICES[voice] * (0.8 + 0.45 * u_pitch)
        else:
            voice = rng.choice(ESPEAK_VOICES) + rng.choice(ESPEAK_VARIANTS)
            pitch = float(round(25 + 50 * u_pitch))
        rate = round(rng.uniform(0.85, 1.2), 3)
        vtl = round(min(1.14, max(0.88, 0.88 + 0.26 * u_vtl + jitter)), 3)
        if engine == "flite" and voice in FLITE_FIXED_PITCH:
            pitch = FLITE_VOICES[voice] * vtl  # what this voice will actually have
        pitch = round(pitch, 1)
        recipes.append(SpeakerRecipe(f"syn{i:03d}", engine, voice, pitch, rate, vtl))
    return recipes


# --------------------------------------------------------------------------------------------------
# Rendering


def render(recipe: SpeakerRecipe, text: str) -> tuple[np.ndarray, list[tuple[str, float, float]] | None]:
    """Speak `text` with `recipe`. Returns ((L,) float32 16 kHz audio, phone timings or None)."""
    with tempfile.TemporaryDirectory(prefix="sv2tts-tts-") as tmp:
        wav_path = Path(tmp) / "out.wav"
        if recipe.engine == "flite":
            cmd = ["flite", "-voice", recipe.voice, "-psdur",
                   "--setf", f"int_f0_target_mean={recipe.pitch / recipe.vtl:.2f}",
                   "--setf", f"duration_stretch={recipe.rate * recipe.vtl:.4f}",
                   "-t", text, "-o", str(wav_path)]
        elif recipe.engine == "espeak-ng":
            wpm = round(175 / (recipe.rate * recipe.vtl))
            cmd = ["espeak-ng", "-v", recipe.voice, "-p", str(int(recipe.pitch)), "-s", str(wpm),
                   "-w", str(wav_path), text]
        else:
            raise EngineError(f"unknown engine {recipe.engine!r}; valid engines: {', '.join(ENGINES)}")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        except FileNotFoundError:
            raise EngineError(f"{recipe.engine} is not installed (Debian: apt install {recipe.engine})") from None
        if proc.returncode != 0 or not wav_path.is_file():
            raise EngineError(f"{recipe.engine} failed on {text!r}: {proc.stderr.strip()[-300:]}")
        data, sr = sf.read(str(wav_path), dtype="float32", always_2d=True)
    wav = audio.resample(data[:, 0], round(sr * recipe.vtl), audio.SAMPLE_RATE)
    phones = parse_psdur(proc.stdout, 1.0 / recipe.vtl) if recipe.engine == "flite" else None
    return audio.peak_normalize(wav, 0.9), phones


# --------------------------------------------------------------------------------------------------
# The corpus


@dataclass(frozen=True)
class _Job:
    recipe: SpeakerRecipe
    stem: Path  # OUT/<speaker>/<utt> without suffix
    text: str


def plan_corpus(out_dir: Path, n_speakers: int, n_utterances: int, engines: list[str],
                seed: int = 0) -> tuple[list[SpeakerRecipe], list[_Job]]:
    """Recipes and the utterance jobs of a corpus: depends only on the arguments."""
    recipes = make_recipes(n_speakers, engines, seed)
    pool = generate_sentences(max(400, 2 * n_utterances), seed)
    rng = random.Random(f"texts-{seed}")
    jobs = []
    for r in recipes:
        texts = rng.sample(pool, n_utterances) if n_utterances <= len(pool) else rng.choices(pool, k=n_utterances)
        jobs += [_Job(r, out_dir / r.id / f"{r.id}_{j:04d}", t) for j, t in enumerate(texts)]
    return recipes, jobs


def _run_job(job: _Job) -> bool:
    """Render one utterance unless its files exist; returns True when it was rendered."""
    wav_path, txt_path = job.stem.with_suffix(".wav"), job.stem.with_suffix(".txt")
    if wav_path.is_file() and txt_path.is_file():
        return False
    wav, phones = render(job.recipe, job.text)
    job.stem.parent.mkdir(parents=True, exist_ok=True)
    if phones is not None:
        _write_atomic(job.stem.with_suffix(".phones.json"), json.dumps(phones).encode())
    tmp = wav_path.with_name(wav_path.name + ".part")
    sf.write(str(tmp), wav, audio.SAMPLE_RATE, subtype="PCM_16", format="WAV")
    tmp.replace(wav_path)
    _write_atomic(txt_path, (job.text + "\n").encode())  # written last: marks the utterance finished
    return True


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def build_corpus(out_dir: Path, n_speakers: int, n_utterances: int, engines: list[str], seed: int = 0,
                 jobs: int = 1, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Write (or complete) a synthetic corpus; see the module docstring for the layout.

    Returns counts {"rendered": ..., "skipped": ...}.
    Raises:
        EngineError: a requested engine is not installed or fails.
        ValueError: an existing speakers.json was made with other arguments.
    """
    missing = [e for e in engines if not shutil.which(e)]
    if missing:
        raise EngineError(f"not installed: {', '.join(missing)} (Debian: apt install {' '.join(missing)})")
    recipes, todo = plan_corpus(out_dir, n_speakers, n_utterances, engines, seed)
    meta = {"format_version": FORMAT_VERSION, "seed": seed, "engines": engines, "utterances_per_speaker":
            n_utterances, "sample_rate": audio.SAMPLE_RATE, "speakers": [asdict(r) for r in recipes]}
    meta_path = out_dir / "speakers.json"
    if meta_path.is_file():
        old = json.loads(meta_path.read_text())
        if old.get("seed") != seed or old.get("engines") != engines:
            raise ValueError(f"{meta_path} was made with seed {old.get('seed')} and engines {old.get('engines')}; "
                             "use another output folder or the same --seed/--engines")
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(meta_path, (json.dumps(meta, indent=1) + "\n").encode())
    counts = {"rendered": 0, "skipped": 0}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # the work runs in engine subprocesses
        for done, rendered in enumerate(pool.map(_run_job, todo), 1):
            counts["rendered" if rendered else "skipped"] += 1
            if progress:
                progress(done, len(todo))
    log.info("corpus %s: %d speakers, %d rendered, %d already there", out_dir, len(recipes),
             counts["rendered"], counts["skipped"])
    return counts
