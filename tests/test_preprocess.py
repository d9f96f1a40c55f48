"""`sv2tts preprocess`: dataset readers on tiny fake trees, and encoder/synthesizer runs on flite speech."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models.data.datasets import read_dataset
from models.data.items import DatasetError
from models.data.librispeech import split_on_silences
from models.data.preprocess import Shard, read_log
from toolbox.cli import main

needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")


def _touch_audio(path: Path, seconds: float = 0.1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "FLAC" if path.suffix == ".flac" else "WAV"
    sf.write(str(path), np.zeros(int(16000 * seconds), np.float32), 16000, format=fmt)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# Readers


def test_generic_reader(tmp_path):
    _touch_audio(tmp_path / "alice" / "a1.wav")
    _write(tmp_path / "alice" / "a1.txt", 'She said  "hello"\n')
    _touch_audio(tmp_path / "alice" / "session2" / "a2.flac")
    _touch_audio(tmp_path / "bob" / "bob_01.wav")
    _write(tmp_path / "bob" / "notes.json", "{}")
    items = read_dataset("generic", tmp_path)
    assert [(u.id, u.speaker, u.text) for u in items] == [
        ("alice_a1", "alice", "She said hello"), ("alice_session2_a2", "alice", None), ("bob_01", "bob", None)]


def test_librispeech_reader_nested_flat_and_alignments(tmp_path):
    chapter = tmp_path / "train-clean-100" / "19" / "198"
    _touch_audio(chapter / "19-198-0000.flac")
    _touch_audio(chapter / "19-198-0001.flac")
    _write(chapter / "19-198.trans.txt", "19-198-0000 NORTHANGER ABBEY\n19-198-0001 CHAPTER ONE\n")
    _write(chapter / "19-198.alignment.txt",
           '19-198-0001 ",A,B,,C,,D," "0.5,1.0,2.0,2.6,4.4,4.9,6.9,7.2"\n')
    _touch_audio(tmp_path / "flat" / "27-124-0003.flac")
    whole = read_dataset("librispeech", tmp_path)
    assert [(u.id, u.speaker, u.text) for u in whole] == [
        ("19-198-0000", "19", "NORTHANGER ABBEY"), ("19-198-0001", "19", "CHAPTER ONE"), ("27-124-0003", "27", None)]
    split = read_dataset("librispeech", tmp_path, split_on_silences=True)
    assert [(u.id, u.text, u.start, u.end) for u in split if u.id.startswith("19-198-0001")] == [
        ("19-198-0001_00", "A B C", 0.5, 4.4), ("19-198-0001_01", "D", 4.9, 6.9)]


def test_split_on_silences_merges_short_segments_within_the_limit():
    # tokens: sil A B [0.6 s sil] C [0.5 s sil] D sil
    words = ["", "A", "B", "", "C", "", "D", ""]
    ends = [0.5, 1.0, 2.0, 2.6, 4.4, 4.9, 6.9, 7.2]
    assert split_on_silences(words, ends) == [(0.5, 4.4, "A B C"), (4.9, 6.9, "D")]
    # a 0.3 s pause does not split; short-only pieces that would exceed 11.25 s stay apart
    assert split_on_silences(["", "A", "", "B", ""], [1.0, 3.0, 3.3, 5.0, 5.5]) == [(1.0, 5.0, "A B")]
    long_words = ["", "A", "", "B", ""]
    assert split_on_silences(long_words, [0.0, 10.5, 11.0, 12.0, 12.5]) == [(0.0, 10.5, "A"), (11.0, 12.0, "B")]


def test_libritts_reader(tmp_path):
    d = tmp_path / "train-clean-100" / "84" / "121123"
    _touch_audio(d / "84_121123_000007_000001.wav")
    _write(d / "84_121123_000007_000001.normalized.txt", "It was the best of times.")
    _write(d / "84_121123_000007_000001.original.txt", "IT WAS")
    _touch_audio(d / "84_121123_000008_000000.wav")
    _write(d / "84_121123_000008_000000.original.txt", "Only original.")
    items = read_dataset("libritts", tmp_path)
    assert [(u.id, u.speaker, u.text) for u in items] == [
        ("84_121123_000007_000001", "84", "It was the best of times."),
        ("84_121123_000008_000000", "84", "Only original.")]


def test_vctk_reader_takes_one_microphone(tmp_path):
    _touch_audio(tmp_path / "wav48_silence_trimmed" / "p225" / "p225_001_mic1.flac")
    _touch_audio(tmp_path / "wav48_silence_trimmed" / "p225" / "p225_001_mic2.flac")
    _touch_audio(tmp_path / "wav48_silence_trimmed" / "p315" / "p315_001_mic1.flac")
    _write(tmp_path / "txt" / "p225" / "p225_001.txt", "Please call Stella.\n")
    items = read_dataset("vctk", tmp_path)
    assert [(u.id, u.speaker, u.text, u.path.name) for u in items] == [
        ("p225_001", "p225", "Please call Stella.", "p225_001_mic1.flac"),
        ("p315_001", "p315", None, "p315_001_mic1.flac")]
    old = tmp_path / "old"
    _touch_audio(old / "wav48" / "p226" / "p226_002.wav")
    _write(old / "txt" / "p226" / "p226_002.txt", "Ask her.")
    assert [(u.id, u.text) for u in read_dataset("vctk", old)] == [("p226_002", "Ask her.")]


def test_ljspeech_reader(tmp_path):
    _write(tmp_path / "metadata.csv", "LJ001-0001|Printing, in 1 sense|Printing, in one sense\n"
           "LJ001-0002|in being comparatively modern.|\nLJ001-0003|missing wav|missing wav\n")
    _touch_audio(tmp_path / "wavs" / "LJ001-0001.wav")
    _touch_audio(tmp_path / "wavs" / "LJ001-0002.wav")
    items = read_dataset("ljspeech", tmp_path)
    assert [(u.id, u.speaker, u.text) for u in items] == [
        ("LJ001-0001", "LJ", "Printing, in one sense"), ("LJ001-0002", "LJ", "in being comparatively modern.")]


def test_voxceleb_reader(tmp_path):
    _touch_audio(tmp_path / "VoxCeleb1" / "wav" / "id10001" / "1zcIwhmdeo4" / "00001.wav")
    (tmp_path / "VoxCeleb2" / "dev" / "aac" / "id00012" / "21Uxsk56VDQ").mkdir(parents=True)
    (tmp_path / "VoxCeleb2" / "dev" / "aac" / "id00012" / "21Uxsk56VDQ" / "00001.m4a").write_bytes(b"\0")
    items = read_dataset("voxceleb", tmp_path)
    assert [(u.id, u.speaker, u.text) for u in items] == [
        ("id00012_21Uxsk56VDQ_00001", "id00012", None), ("id10001_1zcIwhmdeo4_00001", "id10001", None)]


def test_readers_fail_with_the_expected_layout(tmp_path):
    _touch_audio(tmp_path / "loose.wav")
    with pytest.raises(DatasetError, match="metadata.csv"):
        read_dataset("ljspeech", tmp_path)
    with pytest.raises(DatasetError, match="wav48"):
        read_dataset("vctk", tmp_path)
    with pytest.raises(DatasetError, match="valid datasets"):
        read_dataset("timit", tmp_path)


def test_librispeech_reader_on_shared_copy(librispeech):
    items = read_dataset("librispeech", librispeech / "test-other")
    assert len({u.speaker for u in items}) >= 2 and all(u.id.startswith(u.speaker + "-") for u in items)


def test_shards_partition_ids():
    ids = [f"utt{i}" for i in range(3000)]
    parts = [[i for i in ids if i in Shard(k, 3)] for k in range(3)]
    assert sorted(sum(parts, [])) == sorted(ids)
    assert all(900 < len(p) < 1100 for p in parts)
    assert Shard.parse("2/3") == Shard(2, 3)
    for bad in ("3/3", "1", "a/b", "-1/2"):
        with pytest.raises(ValueError, match="I/N"):
            Shard.parse(bad)


# --------------------------------------------------------------------------------------------------
# End to end on flite speech


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    """A generic corpus: 3 flite speakers x 2 utterances, plus a too-short clip and one without text."""
    if shutil.which("flite") is None:
        pytest.skip("flite not installed")
    from models.data.synthetic import build_corpus, make_recipes, render

    root = tmp_path_factory.mktemp("speech")
    build_corpus(root, 3, 2, ["flite"], seed=0, jobs=2)
    recipe = make_recipes(1, ["flite"], seed=0)[0]
    for name, text in (("short", "Hi."), ("notext", "Nobody wrote down what was said in this recording.")):
        wav, _ = render(recipe, text)
        sf.write(str(root / "syn000" / f"{name}.wav"), wav, 16000)
    _write(root / "syn000" / "short.txt", "Hi.")
    return root


@pytest.fixture(scope="module")
def small_encoder(tmp_path_factory) -> Path:
    import torch

    from models.encoder import SpeakerEncoder
    from models.encoder.config import EncoderConfig
    from models.encoder.model import SpeakerEncoderNet

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("enc") / "encoder.safetensors"
    SpeakerEncoder(SpeakerEncoderNet(EncoderConfig.small())).save(path)
    return path


def _log(out: Path) -> dict[str, dict]:
    return read_log(out)


def test_encoder_preprocess_end_to_end_and_resume(speech, tmp_path, capsys):
    out = tmp_path / "enc"
    assert main(["preprocess", "encoder", str(speech), str(out), "--dataset", "generic"]) == 0
    assert "kept 7, dropped 1 (too short 1), skipped 0" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [
        "generic_syn000", "generic_syn001", "generic_syn002", "preprocess_log.jsonl"]
    mel = np.load(out / "generic_syn001" / "syn001_0000.npy")
    assert mel.dtype == np.float32 and mel.ndim == 2 and mel.shape[1] == 40 and mel.shape[0] >= 160
    assert np.all(mel >= 0)  # power mels, no log
    sources = (out / "generic_syn000" / "_sources.txt").read_text().splitlines()
    d = speech / "syn000"
    assert sources == [f"syn000_0000.npy,{d / 'syn000_0000.wav'}", f"syn000_0001.npy,{d / 'syn000_0001.wav'}",
                       f"syn000_notext.npy,{d / 'notext.wav'}"]
    log = _log(out)
    assert log["syn000_short"]["status"] == "dropped" and log["syn000_short"]["reason"].startswith("too short:")
    assert log["syn002_0001"]["status"] == "kept" and log["syn002_0001"]["n_frames"] == len(
        np.load(out / "generic_syn002" / "syn002_0001.npy"))

    stamp = (out / "generic_syn001" / "syn001_0000.npy").stat().st_mtime_ns
    (out / "generic_syn002" / "syn002_0001.npy").unlink()
    assert main(["preprocess", "encoder", str(speech), str(out), "--dataset", "generic", "--skip-existing"]) == 0
    assert "kept 1, dropped 0, skipped 7" in capsys.readouterr().err
    assert (out / "generic_syn002" / "syn002_0001.npy").is_file()
    assert (out / "generic_syn001" / "syn001_0000.npy").stat().st_mtime_ns == stamp

    assert main(["preprocess", "synthesizer", str(speech), str(out), "--dataset", "generic"]) == 1
    assert "separate output folder" in capsys.readouterr().err  # one kind of data per folder


def test_encoder_shards_partition_the_items(speech, tmp_path, capsys):
    out = tmp_path / "enc"
    for i, jobs in ((0, "2"), (1, "1")):
        assert main(["preprocess", "encoder", str(speech), str(out), "--dataset", "generic",
                     "--shard", f"{i}/2", "--jobs", jobs]) == 0
    ids = []
    for i in range(2):
        lines = (out / f"preprocess_log.shard{i}of2.jsonl").read_text().splitlines()
        ids.append({json.loads(line)["id"] for line in lines})
    assert not ids[0] & ids[1] and ids[0] and ids[1]
    assert ids[0] | ids[1] == {u.id for u in read_dataset("generic", speech)}
    kept = sum(len((out / f"generic_syn00{k}" / "_sources.txt").read_text().splitlines()) for k in range(3))
    assert kept == 7  # the manifests cover both shards


def test_synthesizer_preprocess_end_to_end(speech, small_encoder, tmp_path, capsys):
    out = tmp_path / "syn"
    cmd = ["preprocess", "synthesizer", str(speech), str(out), "--dataset", "generic", "--encoder", str(small_encoder)]
    assert main(cmd) == 0
    assert "kept 6, dropped 2 (no transcript 1, too short 1)" in capsys.readouterr().err
    rows = [line.split("|") for line in (out / "train.txt").read_text().splitlines()]
    assert len(rows) == 6 and rows[0][:3] == ["audio-syn000_0000.npy", "mel-syn000_0000.npy", "embed-syn000_0000.npy"]
    for audio_name, mel_name, embed_name, n_samples, n_frames, text in rows:
        wav, mel, emb = (np.load(out / d / n) for d, n in (("audio", audio_name), ("mels", mel_name),
                                                            ("embeds", embed_name)))
        assert wav.dtype == mel.dtype == emb.dtype == np.float32
        assert len(wav) == int(n_samples) >= 1.6 * 16000 and abs(np.max(np.abs(wav)) - 0.9) < 1e-3
        assert mel.shape == (int(n_frames), 80) and int(n_frames) == 1 + len(wav) // 200
        assert -4 <= mel.min() and mel.max() <= 4
        assert emb.shape == (64,) and abs(np.linalg.norm(emb) - 1) < 1e-4
        uid = mel_name.removeprefix("mel-").removesuffix(".npy")
        assert text == (speech / uid.split("_")[0] / f"{uid}.txt").read_text().strip()
    log = _log(out)
    assert log["syn000_notext"]["reason"] == "no transcript" and log["syn000_short"]["reason"].startswith("too short:")

    (out / "embeds" / "embed-syn001_0001.npy").unlink()
    assert main([*cmd, "--skip-existing"]) == 0
    assert "kept 1, dropped 0, skipped 7" in capsys.readouterr().err
    assert len((out / "train.txt").read_text().splitlines()) == 6

    stamp = (out / "embeds" / "embed-syn000_0000.npy").stat().st_mtime_ns
    assert main(cmd) == 0  # without --skip-existing everything is redone, embeddings included
    assert "kept 6, dropped 2" in capsys.readouterr().err
    assert (out / "embeds" / "embed-syn000_0000.npy").stat().st_mtime_ns != stamp
    assert len((out / "train.txt").read_text().splitlines()) == 6


def test_synthesizer_refuses_voxceleb(tmp_path, capsys):
    _touch_audio(tmp_path / "vox" / "id10001" / "v" / "00001.wav")
    out = tmp_path / "out"
    assert main(["preprocess", "synthesizer", str(tmp_path / "vox"), str(out), "--dataset", "voxceleb"]) == 1
    assert "only be preprocessed for the encoder" in capsys.readouterr().err


def test_unreadable_files_are_logged_not_fatal(tmp_path, capsys):
    root, out = tmp_path / "data", tmp_path / "out"
    _touch_audio(root / "spk" / "silent.wav", 2.0)
    (root / "spk" / "broken.wav").write_bytes(b"RIFF nonsense")
    assert main(["preprocess", "encoder", str(root), str(out)]) == 0
    assert "kept 0, dropped 2 (audio 2)" in capsys.readouterr().err
    log = read_log(out)
    assert "cannot read" in log["spk_broken"]["reason"] and "silent" in log["spk_silent"]["reason"]
