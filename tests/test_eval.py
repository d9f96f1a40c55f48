"""Evaluation: word error rate, the offline recognizer, and `sv2tts eval` end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
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
    assert report["mode"] == "clone" and report["voices"] == 2 and len(report["runs"]) == 1
    run = report["runs"][0]
    assert run["vocoder"] == "griffinlim" and run["clones"] == 2 and len(run["items"]) == 2
    assert 0 <= run["wer"] and -1 <= run["similarity_min"] <= run["similarity_mean"] <= 1
    assert 0 <= run["eer"] <= 1
    assert {"voice", "sentence", "hypothesis", "wer", "similarity", "seconds", "mos", "pitch_error"} <= set(
        run["items"][0])
    assert set(run["mos"]) == {"p808", "sig", "bak", "ovrl"} and all(1 <= v <= 5 for v in run["mos"].values())
    assert {"median_abs", "mean_abs", "unmeasured", "by_voice"} == set(run["pitch_error_semitones"])


def resynth_clips(librispeech):
    """Two short test-other utterances of two readers."""
    return [librispeech / "test-other" / "1998" / "1998-15444-0007.flac",
            librispeech / "test-other" / "367" / "367-130732-0008.flac"]


def test_eval_resynth_measures_griffin_lim_against_the_originals(tmp_path, librispeech):
    pytest.importorskip("speechmos", reason="the eval extra (speechmos, onnxruntime) is not installed")
    pytest.importorskip("parselmouth", reason="the eval extra (praat-parselmouth) is not installed")
    out = tmp_path / "resynth.json"
    clips = resynth_clips(librispeech)
    # The same vocoder twice under two names: two runs, and the same seeds give the same numbers.
    assert main(["eval", "--resynth", "--voices", *map(str, clips), "--vocoder", "griffinlim", "--vocoder", "gl",
                 "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["mode"] == "resynthesis" and report["utterances"] == 2 and report["voices"] == 2
    assert [r["vocoder"] for r in report["runs"]] == ["griffinlim", "gl"]
    gl, again = report["runs"]
    assert gl["similarity_mean"] == again["similarity_mean"] and gl["mos"] == again["mos"]
    # Griffin-Lim keeps much of the voice but not all of it, pitch almost exactly, and costs naturalness.
    assert 0.55 < gl["similarity_min"] <= gl["similarity_mean"] < 0.95
    assert gl["similarity_mean"] > gl["other_voice_similarity_to_originals"] + 0.15
    assert -1 < gl["other_voice_similarity_among_resynth"] < gl["similarity_mean"]
    assert -1 < report["original"]["other_voice_similarity_mean"] < gl["similarity_mean"]
    assert gl["pitch_error_semitones"]["median_abs"] < 1.0
    assert set(gl["pitch_error_semitones"]["by_voice"]) == {"1998", "367"}
    original = report["original"]["mos"]
    assert gl["mos"]["p808"] < original["p808"] and gl["mos_change"]["p808"] == pytest.approx(
        gl["mos"]["p808"] - original["p808"], abs=2e-3)
    assert [o["file"] for o in report["originals"]] == list(map(str, clips))
    assert all(100 < o["f0"] < 300 and 1 <= o["mos"]["p808"] <= 5 for o in report["originals"])
    assert [len(r["items"]) for r in report["runs"]] == [2, 2]


def test_eval_resynth_limit_takes_readers_in_turn(tmp_path, librispeech, capsys):
    out = tmp_path / "r.json"
    folders = [librispeech / "test-other" / "1998", librispeech / "test-other" / "367"]
    assert main(["eval", "--resynth", "--voices", *map(str, folders), "--limit", "2", "--no-mos", "--no-pitch",
                 "--vocoder", "griffinlim", "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [o["voice"] for o in report["originals"]] == ["1998", "367"]
    assert "mos" not in report["runs"][0] and "pitch_error_semitones" not in report["runs"][0]


@pytest.mark.parametrize(("argv", "message"), [
    (["eval"], "--voices is required (reference audio files or folders), except with --resynth"),
    (["eval", "--resynth", "--limit", "0"], "--limit must be at least 1 (got 0)"),
    (["eval", "--resynth", "--voices", "/nonexistent/x.wav", "--no-mos", "--no-pitch", "--vocoder", "gl"],
     "/nonexistent/x.wav: no such file"),
])
def test_eval_bad_input_is_one_line(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"sv2tts eval: error: {message}"


def test_eval_real_baseline_scores_the_readers_other_recordings(tmp_path, librispeech, published_encoder_path):
    from models.audio import load_audio
    from models.encoder import SpeakerEncoder
    from models.evaluation import centre_crop
    from models.synthesizer import Synthesizer, TacotronConfig
    from models.synthesizer.tacotron import Tacotron

    torch.manual_seed(0)
    synth = tmp_path / "synth.safetensors"
    Synthesizer(Tacotron(TacotronConfig.small())).save(synth)
    readers = [librispeech / "test-other" / r for r in ("1998", "367")]
    voices = [sorted(r.glob("*.flac"))[0] for r in readers]
    lonely = tmp_path / "lonely" / "ref.flac"  # a reference with no other recording beside it
    lonely.parent.mkdir()
    lonely.write_bytes(voices[1].read_bytes())
    sentences = tmp_path / "s.txt"
    sentences.write_text("A short test.\n")
    out = tmp_path / "report.json"
    assert main(["eval", "--voices", *map(str, voices), str(lonely), "--sentences", str(sentences),
                 "--synthesizer", str(synth), "--vocoder", "griffinlim", "--encoder", str(published_encoder_path),
                 "--no-asr", "--no-mos", "--no-pitch", "--real-baseline", "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    base = report["real_baseline"]
    seconds = [it["seconds"] for it in report["runs"][0]["items"]]
    assert base["seconds"] == pytest.approx(sum(seconds) / len(seconds), abs=0.01)
    others = [sorted(set(r.glob("*.flac")) - set(voices)) for r in readers]
    assert base["recordings"] == sum(map(len, others)) and set(base["by_voice"]) == set(map(str, voices))
    # The same reader's recordings score high; cut the same way, another reader's score far lower.
    encoder = SpeakerEncoder.from_file(published_encoder_path)
    n = int(round(base["seconds"] * 16_000))
    crops = encoder.embed_utterances([centre_crop(load_audio(f), n) for f in others[0]])
    other_ref = encoder.embed_files([voices[1]])[0]
    assert 0.7 <= base["by_voice"][str(voices[0])] <= 0.97
    assert base["by_voice"][str(voices[0])] > float((crops @ other_ref).mean()) + 0.15
    assert 0.7 <= base["similarity_mean"] <= 0.97


def test_centre_crop():
    from models.evaluation import centre_crop

    wav = np.arange(10.0)
    np.testing.assert_array_equal(centre_crop(wav, 4), [3, 4, 5, 6])
    np.testing.assert_array_equal(centre_crop(wav, 20), wav)


def test_eval_voice_match_changes_the_clones_and_is_reported(tmp_path, librispeech, published_encoder_path):
    pytest.importorskip("pocketsphinx", reason="voice match aligns the reference with pocketsphinx")
    demo = Path(__file__).resolve().parents[1] / "pretrained" / "demo-synthesizer.safetensors"
    voice = librispeech / "test-other" / "1998" / "1998-15444-0000.flac"
    sentences = tmp_path / "s.txt"
    sentences.write_text("The little boat drifted slowly toward the quiet harbor.\n")
    reports = {}
    for strength in ("0", "0.5"):
        out = tmp_path / f"{strength}.json"
        assert main(["eval", "--voices", str(voice), "--sentences", str(sentences), "--synthesizer", str(demo),
                     "--vocoder", "griffinlim", "--encoder", str(published_encoder_path), "--no-asr", "--no-mos",
                     "--no-pitch", "--voice-match", strength, "-o", str(out)]) == 0
        reports[strength] = json.loads(out.read_text())
    assert reports["0"]["voice_match"] == 0.0 and reports["0.5"]["voice_match"] == 0.5
    off, on = (reports[s]["runs"][0]["items"][0] for s in ("0", "0.5"))
    assert off["seconds"] == on["seconds"] and off["similarity"] != on["similarity"]
