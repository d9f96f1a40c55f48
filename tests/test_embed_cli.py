"""`sv2tts embed` through the real entry point."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from toolbox.cli import main


@pytest.fixture()
def voices(librispeech, tmp_path):
    files = sorted((librispeech / "test-other").glob("*/*.flac"))[::25][:4]
    # The same audio as 44.1 kHz stereo 24-bit: it must embed (almost) identically.
    wav, sr = sf.read(files[0], dtype="float32")
    import soxr
    hi = soxr.resample(wav, sr, 44_100)
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.stack([hi, hi], axis=1), 44_100, subtype="PCM_24")
    return files, stereo


def test_embed_writes_one_unit_row_per_file_in_order(voices, tmp_path, published_encoder_path, capsys):
    files, stereo = voices
    out = tmp_path / "e.npy"
    args = [str(f) for f in files] + [str(stereo)]
    assert main(["embed", *args, "-o", str(out), "--encoder", str(published_encoder_path)]) == 0
    e = np.load(out)
    assert e.shape == (5, 256) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    from models.encoder import SpeakerEncoder
    direct = SpeakerEncoder.from_file(published_encoder_path).embed_files(files)
    np.testing.assert_allclose(e[:4], direct, atol=1e-6)
    assert float(e[0] @ e[4]) > 0.99  # resampled stereo 24-bit copy of the first file
    assert float(e[0] @ e[1]) < 0.9  # a different speaker


def test_bad_file_is_named_and_nothing_written(voices, tmp_path, published_encoder_path, capsys):
    files, _ = voices
    bad = tmp_path / "corrupt.flac"
    bad.write_bytes(b"fLaC" + bytes(100))
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(32_000, np.float32), 16_000)
    out = tmp_path / "e.npy"
    for culprit, problem in ((bad, "cannot read"), (silent, "silent")):
        code = main(["embed", str(files[0]), str(culprit), "-o", str(out), "--encoder", str(published_encoder_path)])
        err = capsys.readouterr().err
        assert code == 1
        assert f"{culprit}" in err and problem in err and "Traceback" not in err
        assert not out.exists()


def test_refuses_to_overwrite_without_force(voices, tmp_path, published_encoder_path, capsys):
    files, _ = voices
    out = tmp_path / "e.npy"
    out.write_bytes(b"keep me")
    assert main(["embed", str(files[0]), "-o", str(out), "--encoder", str(published_encoder_path)]) == 1
    assert "--force" in capsys.readouterr().err and out.read_bytes() == b"keep me"
    assert main(["embed", str(files[0]), "-o", str(out), "--encoder", str(published_encoder_path), "--force"]) == 0
    assert np.load(out).shape == (1, 256)
