"""Dataset discovery for the toolbox browser: the recognised layouts, nested and flat."""

from __future__ import annotations

from pathlib import Path

from toolbox.gui.datasets import find_datasets


def touch(root: Path, *paths: str) -> None:
    for p in paths:
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        (root / p).write_bytes(b"")


def test_recognised_layouts(tmp_path):
    touch(tmp_path,
          "LibriSpeech/train-clean-100/19/198/19-198-0001.flac",
          "LibriSpeech/train-clean-100/19/198/19-198-0000.flac",
          "LibriTTS/dev-clean/84/121123/84_121123_000008_000000.wav",
          "VCTK-Corpus/wav48/p225/p225_001.wav",
          "VoxCeleb1/wav/id10001/1zcIwhmdeo4/00001.wav",
          "LJSpeech-1.1/wavs/LJ001-0001.wav",
          "mirror/librispeech/test-clean/103-1240-0000.flac",
          "mirror/librispeech/test-clean/1034-121119-0000.flac",
          "notes/readme.txt")
    found = {d.name: d for d in find_datasets(tmp_path)}
    assert set(found) == {"LibriSpeech/train-clean-100", "LibriTTS/dev-clean", "VCTK-Corpus/wav48",
                          "VoxCeleb1/wav", "LJSpeech-1.1/wavs", "mirror/librispeech/test-clean"}
    ls = found["LibriSpeech/train-clean-100"]
    assert ls.speakers() == ["19"]
    assert ls.utterances("19") == ["198/19-198-0000.flac", "198/19-198-0001.flac"]
    assert ls.utterance_path("19", "198/19-198-0000.flac").is_file()
    assert found["VCTK-Corpus/wav48"].utterances("p225") == ["p225_001.wav"]
    lj = found["LJSpeech-1.1/wavs"]
    assert lj.speakers() == ["LJ"] and lj.utterances("LJ") == ["LJ001-0001.wav"]
    flat = found["mirror/librispeech/test-clean"]
    assert flat.speakers() == ["103", "1034"]  # grouped by file-name prefix, natural order
    assert flat.utterances("103") == ["103-1240-0000.flac"]
    assert flat.utterance_path("103", "103-1240-0000.flac").is_file()


def test_no_root_or_missing_root_gives_nothing(tmp_path):
    assert find_datasets(None) == []
    assert find_datasets(tmp_path / "absent") == []
