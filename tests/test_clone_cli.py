"""`sv2tts clone` end to end: a random synthesizer.pt of the published layout, the published encoder,
Griffin-Lim; deterministic bytes for a seed; refusals with one-line errors and nothing written."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import soundfile as sf

from toolbox.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def voice(librispeech) -> Path:
    return sorted((librispeech / "test-other").rglob("*.flac"))[0]


def clone(out: Path, synthesizer: Path, voice: Path, encoder: Path, *extra: str) -> int:
    return main(["clone", "--voice", str(voice), "-o", str(out), "--synthesizer", str(synthesizer),
                 "--encoder", str(encoder), "--vocoder", "griffinlim", *extra])


def test_clone_writes_16k_audio_and_a_seed_gives_the_same_bytes(tmp_path, synthesizer_pt, voice,
                                                                published_encoder_path, capsys):
    a, b, c = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.flac"
    text = ["--text", "Hello world. Nice to meet you!", "--seed", "7"]
    assert clone(a, synthesizer_pt, voice, published_encoder_path, *text) == 0
    assert clone(b, synthesizer_pt, voice, published_encoder_path, *text) == 0
    assert a.read_bytes() == b.read_bytes()
    info = sf.info(str(a))
    assert (info.samplerate, info.channels, info.subtype, info.format) == (16_000, 1, "PCM_16", "WAV")
    assert info.frames > 0
    assert "wrote" in capsys.readouterr().err
    assert clone(c, synthesizer_pt, voice, published_encoder_path, *text) == 0
    assert sf.info(str(c)).format == "FLAC"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav", "c.flac"]  # no temp files


def test_long_non_english_text_file_gets_a_progress_bar(tmp_path, synthesizer_pt, voice,
                                                        published_encoder_path, capsys, caplog):
    text = tmp_path / "text.txt"
    text.write_text("Привет, как дела? Ça va très bien, merci. 😀\nAnd a second line to say.\n", "utf-8")
    out = tmp_path / "out.wav"
    assert clone(out, synthesizer_pt, voice, published_encoder_path, "--text-file", str(text),
                 "--seed", "1") == 0
    err = capsys.readouterr().err
    assert "cloning" in err and "100%" in err
    assert "cannot be spoken: '😀'" in caplog.text  # reported, not silently dropped
    assert sf.info(str(out)).frames > 2400  # two sentences and a pause


def test_refuses_to_overwrite_without_force(tmp_path, synthesizer_pt, voice, published_encoder_path, capsys):
    out = tmp_path / "out.wav"
    out.write_bytes(b"precious")
    assert clone(out, synthesizer_pt, voice, published_encoder_path, "--text", "Hi.") == 1
    assert "exists; use --force" in capsys.readouterr().err and out.read_bytes() == b"precious"
    assert clone(out, synthesizer_pt, voice, published_encoder_path, "--text", "Hi.", "--force") == 0
    assert sf.info(str(out)).samplerate == 16_000


class _RunsCode:
    marker = ""

    def __reduce__(self):
        return (Path.touch, (Path(_RunsCode.marker),))


@pytest.mark.parametrize("kind", ["html", "truncated", "pickle"])
def test_bad_synthesizer_files_fail_in_one_line_and_write_nothing(kind, tmp_path, synthesizer_pt, voice,
                                                                  published_encoder_path, capsys):
    bad = tmp_path / "synthesizer.pt"
    marker = tmp_path / "code-ran"
    if kind == "html":
        bad.write_text("<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>")
    elif kind == "truncated":
        bad.write_bytes(synthesizer_pt.read_bytes()[: 40_000_000])
    else:
        _RunsCode.marker = str(marker)
        bad.write_bytes(pickle.dumps({"model_state": _RunsCode()}))
    out = tmp_path / "out.wav"
    assert clone(out, bad, voice, published_encoder_path, "--text", "Hello.") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sv2tts clone: error:") and str(bad) in err[0]
    assert not out.exists() and not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthesizer.pt"]


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("  \n\t ", "empty"), ("!!! ...", "no text to speak"), ("Say {HH AH0}", "ARPAbet"),
])
def test_unusable_text_fails_before_loading_anything(tmp_path, text, message, capsys):
    out = tmp_path / "out.wav"
    rc = main(["clone", "--voice", str(tmp_path / "missing.wav"), "--text", text, "-o", str(out),
               "--synthesizer", str(tmp_path / "missing.pt"), "--vocoder", "griffinlim"])
    err = capsys.readouterr().err
    assert rc == 1 and message in err and "Traceback" not in err and not out.exists()


def test_bad_output_name_and_missing_text_file(tmp_path, capsys):
    assert main(["clone", "--voice", "v.wav", "--text", "Hi.", "-o", str(tmp_path / "out.mp3")]) == 1
    assert ".wav or .flac" in capsys.readouterr().err
    assert main(["clone", "--voice", "v.wav", "--text-file", str(tmp_path / "nope.txt"),
                 "-o", str(tmp_path / "o.wav")]) == 1
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("flag,value", [("--voice-match", "0.3"), ("--speed", "1.5"), ("--pitch-shift", "2")])
def test_demo_controls_with_the_published_tacotron_fail_in_one_line(flag, value, tmp_path, synthesizer_pt, voice,
                                                                    published_encoder_path, capsys):
    out = tmp_path / "out.wav"
    assert clone(out, synthesizer_pt, voice, published_encoder_path, "--text", "Hi.", flag, value) == 1
    err = capsys.readouterr().err
    assert "--voice-match work with the demo synthesizer only" in err
    assert "Traceback" not in err and not out.exists()
