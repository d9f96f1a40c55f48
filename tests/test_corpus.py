"""`sv2tts corpus`: sentence generator, speaker recipes, and the engines end to end (skipped without them)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models.data.sentences import generate_sentences
from models.data.synthetic import make_recipes, plan_corpus, render
from toolbox.cli import main

needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def test_sentences_are_many_distinct_and_deterministic():
    a = generate_sentences(600, seed=3)
    assert len(set(a)) == 600
    assert a == generate_sentences(600, seed=3)
    assert a != generate_sentences(600, seed=4)
    words = {w.strip(".,!?").lower() for s in a for w in s.split()}
    assert len(words) > 300  # lexical (hence phonetic) variety
    assert all(s[0].isupper() and s[-1] in ".?!" for s in a)
    assert not any(" a a" in s or " a e" in s or " a o" in s for s in a)  # "an" before vowels


def test_recipes_are_deterministic_varied_and_prefix_stable():
    r = make_recipes(12, ["flite", "espeak-ng"], seed=1)
    assert r == make_recipes(12, ["flite", "espeak-ng"], seed=1)
    assert r[:5] == make_recipes(5, ["flite", "espeak-ng"], seed=1)  # growing a corpus keeps its speakers
    assert len({x.id for x in r}) == 12 and [x.engine for x in r[:4]] == ["flite", "espeak-ng"] * 2
    assert len({(x.voice, x.pitch, x.rate, x.vtl) for x in r}) == 12
    assert all(0.85 <= x.rate <= 1.2 and 0.88 <= x.vtl <= 1.14 for x in r)
    with pytest.raises(ValueError, match="valid engines"):
        make_recipes(2, ["mbrola"])


def test_plan_assigns_texts_deterministically(tmp_path):
    recipes, jobs = plan_corpus(tmp_path, 3, 4, ["flite"], seed=0)
    _, again = plan_corpus(tmp_path, 3, 4, ["flite"], seed=0)
    assert [(j.stem, j.text) for j in jobs] == [(j.stem, j.text) for j in again]
    assert len(jobs) == 12 and jobs[0].stem == tmp_path / "syn000" / "syn000_0000"
    assert len({j.text for j in jobs if j.recipe.id == "syn001"}) == 4


@needs_flite
def test_vtl_moves_formants_not_duration():
    """With pitch/rate correction, a VTL change keeps the duration (within a few %)."""
    [r] = make_recipes(1, ["flite"], seed=0)
    text = "A short sentence about seven blue boats."
    lo, _ = render(r.__class__(**{**r.__dict__, "vtl": 0.9}), text)
    hi, phones = render(r.__class__(**{**r.__dict__, "vtl": 1.1}), text)
    assert abs(len(lo) - len(hi)) / len(lo) < 0.06
    assert phones[0][0] == "pau" and abs(phones[-1][2] - len(hi) / 16000) < 0.1
    assert 0.85 < np.max(np.abs(hi)) <= 0.9 + 1e-6


@needs_flite
def test_corpus_cli_layout_resume_and_determinism(tmp_path, capsys):
    out = tmp_path / "corpus"
    args = ["corpus", str(out), "--speakers", "2", "--utterances", "2", "--seed", "5", "--jobs", "2"]
    assert main(args) == 0
    meta = json.loads((out / "speakers.json").read_text())
    assert [s["id"] for s in meta["speakers"]] == ["syn000", "syn001"] and meta["seed"] == 5
    for spk in ("syn000", "syn001"):
        for k in range(2):
            stem = out / spk / f"{spk}_{k:04d}"
            info = sf.info(str(stem.with_suffix(".wav")))
            assert (info.samplerate, info.channels) == (16000, 1) and 1.0 < info.duration < 12
            assert stem.with_suffix(".txt").read_text().strip()
            phones = json.loads(stem.with_suffix(".phones.json").read_text())
            assert all(a <= b for _, a, b in phones)
    assert not list(out.rglob("*.part"))

    wav = out / "syn000" / "syn000_0000.wav"
    wav.unlink()
    capsys.readouterr()
    assert main(args) == 0  # resume: renders only the missing file
    assert "1 rendered, 3 already there" in capsys.readouterr().err

    other = tmp_path / "again"
    assert main(["corpus", str(other), "--speakers", "2", "--utterances", "2", "--seed", "5", "--jobs", "1"]) == 0
    for f in sorted(out.rglob("*.*")):
        assert f.read_bytes() == (other / f.relative_to(out)).read_bytes(), f


@needs_flite
def test_corpus_refuses_a_different_seed_in_the_same_folder(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["corpus", str(out), "--speakers", "1", "--utterances", "1"]) == 0
    assert main(["corpus", str(out), "--speakers", "1", "--utterances", "1", "--seed", "9"]) == 1
    assert "seed" in capsys.readouterr().err


def test_corpus_rejects_unknown_engine(tmp_path, capsys):
    assert main(["corpus", str(tmp_path), "--engines", "flite,mbrola"]) == 1
    assert "valid engines" in capsys.readouterr().err


@needs_espeak
def test_espeak_speaker(tmp_path):
    assert main(["corpus", str(tmp_path), "--speakers", "1", "--utterances", "1", "--engines", "espeak-ng"]) == 0
    files = sorted(p.name for p in Path(tmp_path, "syn000").iterdir())
    assert files == ["syn000_0000.txt", "syn000_0000.wav"]  # espeak-ng gives no phone timings
    assert sf.info(str(tmp_path / "syn000" / "syn000_0000.wav")).samplerate == 16000
