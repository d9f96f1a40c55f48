"""Evaluation: word error rate, the offline recognizer, and `sv2tts eval` end to end."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import torch

from models.evaluation import word_errors, words
from toolbox.cli import main


def test_words_are_normalised_like_the_synthesizer_reads_them():
    assert words("Dr. Smith paid $3.50, didn't he?") == ["doctor", "smith", "paid", "three", "dollars",
                                                         "fifty", "cents", "didn't", "he"]


@pytest.mark.parametrize(("ref", "hyp", "expected"), [
    ("the cat sat", "the cat sat", (0, 3)),
    ("the cat sat", "the bat sat", (1, 3)),
    ("the cat sat", "the sat", (1, 3)),
    ("the cat sat", "oh the cat sat down", (2, 3)),
    ("the cat sat", "", (3, 3)),
    ("21 apples", "twenty one apples", (0, 3)),
])
def test_word_errors(ref, hyp, expected):
    assert word_errors(ref, hyp) == expected


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")
def test_recognizer_understands_flite(tmp_path):
    pytest.importorskip("pocketsphinx", reason="the eval extra (pocketsphinx) is not installed")
    from models.asr import Recognizer
    from models.audio import load_audio

    sentence = "The quick brown fox jumps over the lazy dog near the river bank."
    path = tmp_path / "s.wav"
    subprocess.run(["flite", "-voice", "slt", "-t", sentence, "-o", str(path)], check=True)
    errors, n = word_errors(sentence, Recognizer().transcribe(load_audio(path)))
    assert errors / n <= 0.2


def test_eval_command_reports_json(tmp_path, librispeech, published_encoder_path, capsys):
    pytest.importorskip("pocketsphinx", reason="the eval extra (pocketsphinx) is not installed")
    from models.synthesizer import Synthesizer, TacotronConfig
    from models.synthesizer.tacotron import Tacotron

    torch.manual_seed(0)
    synth = tmp_path / "synth.safetensors"
    Synthesizer(Tacotron(TacotronConfig.small())).save(synth)
    voices = sorted((librispeech / "test-other").glob("*/*.flac"))[::50][:2]
    sentences = tmp_path / "s.txt"
    sentences.write_text("A short test.\n")
    out = tmp_path / "report.json"
    assert main(["eval", "--voices", *map(str, voices), "--sentences", str(sentences), "--synthesizer", str(synth),
                 "--vocoder", "griffinlim", "--encoder", str(published_encoder_path), "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["voices"] == 2 and report["clones"] == 2 and len(report["items"]) == 2
    assert 0 <= report["wer"] and -1 <= report["similarity_min"] <= report["similarity_mean"] <= 1
    assert 0 <= report["eer"] <= 1
    assert {"voice", "sentence", "hypothesis", "wer", "similarity", "seconds"} <= set(report["items"][0])
