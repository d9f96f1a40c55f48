"""Speaker encoder: partials, strict loading of the published layout, safe loading, and equality
with the published algorithm on real speech (cosine, EER)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import soundfile as sf
import torch

from models.checkpoint import CheckpointError
from models.encoder import EncoderConfig, SpeakerEncoder, SpeakerEncoderNet, partial_slices
from models.encoder.reference import reference_embed, reference_partials
from models.evaluation import equal_error_rate, pairwise_trials
from tests.conftest import random_state

CONFIG = EncoderConfig.rtvc()


@pytest.mark.parametrize(("seconds", "expected"), [(0.5, 1), (1, 1), (1.6, 1), (2, 2), (3, 3), (5, 5), (10, 12)])
def test_partial_counts(seconds, expected):
    wav_slices, mel_slices = partial_slices(int(seconds * 16_000), CONFIG)
    assert len(wav_slices) == len(mel_slices) == expected
    assert all(s.stop - s.start == 160 for s in mel_slices)
    assert [s.start for s in mel_slices] == [80 * i for i in range(expected)]


def test_partials_agree_with_reference_for_every_length():
    for n in range(1, 200_000, 997):
        ours = partial_slices(n, CONFIG)
        assert ours == reference_partials(n), n


def test_published_layout_loads_strictly(tmp_path, state_dict_layouts):
    layout = state_dict_layouts["encoder"]
    net = SpeakerEncoderNet(CONFIG)
    assert [(k, tuple(v.shape), str(v.dtype)) for k, v in net.state_dict().items()] == [
        (e["name"], tuple(e["shape"]), f"torch.{e['dtype']}") for e in layout]
    state = random_state(layout, seed=3)
    path = tmp_path / "encoder.pt"
    torch.save({"step": 7, "model_state": state, "optimizer_state": {"state": {}, "param_groups": []}}, path)
    enc = SpeakerEncoder.from_file(path)
    for name, value in enc.net.state_dict().items():
        assert torch.equal(value, state[name]), name
    mels = torch.rand(2, 160, 40)
    expected = net.load_state_dict(state) and net.eval()(mels)  # same weights, plain module
    np.testing.assert_allclose(enc.embed_partials(mels.numpy()), expected.detach().numpy(), atol=1e-6)


def test_wrong_layout_is_named(tmp_path):
    state = SpeakerEncoderNet(EncoderConfig.small()).state_dict()
    path = tmp_path / "other.pt"
    torch.save({"model_state": state}, path)
    with pytest.raises(CheckpointError, match=r"other.pt: not a speaker encoder checkpoint.*shape"):
        SpeakerEncoder.from_file(path)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "encoder.pt"
    with open(path, "wb") as f:
        pickle.dump({"model_state": _RunsCode(marker)}, f)
    with pytest.raises(CheckpointError, match="refused"):
        SpeakerEncoder.from_file(path)
    assert not marker.exists()
    zipped = tmp_path / "zipped.pt"
    torch.save({"model_state": _RunsCode(marker)}, zipped)
    with pytest.raises(CheckpointError, match="refused"):
        SpeakerEncoder.from_file(zipped)
    assert not marker.exists()


def test_html_empty_and_truncated_files_are_explained(tmp_path):
    html = tmp_path / "encoder.pt"
    html.write_text("<!DOCTYPE html><html><body>Repository not found</body></html>")
    with pytest.raises(CheckpointError, match="HTML"):
        SpeakerEncoder.from_file(html)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        SpeakerEncoder.from_file(empty)
    good = tmp_path / "good.pt"
    torch.save({"model_state": SpeakerEncoderNet(CONFIG).state_dict()}, good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        SpeakerEncoder.from_file(cut)
    with pytest.raises(CheckpointError, match="not found"):
        SpeakerEncoder.from_file(tmp_path / "missing.pt")


def test_safetensors_round_trip_keeps_config(tmp_path):
    torch.manual_seed(0)
    enc = SpeakerEncoder(SpeakerEncoderNet(EncoderConfig.small()))
    path = enc.save(tmp_path / "enc.safetensors")
    again = SpeakerEncoder.from_file(path)
    assert again.config == EncoderConfig.small()
    mels = np.random.default_rng(0).random((3, 160, 40), dtype=np.float32)
    np.testing.assert_array_equal(enc.embed_partials(mels), again.embed_partials(mels))
    with pytest.raises(CheckpointError, match="expected 'vocoder'"):
        from models.checkpoint import load_safetensors
        load_safetensors(path, "vocoder")


def test_batched_equals_one_at_a_time():
    torch.manual_seed(1)
    enc = SpeakerEncoder(SpeakerEncoderNet(CONFIG), batch_partials=7)
    rng = np.random.default_rng(1)
    wavs = [(rng.standard_normal(n) * 0.1).astype(np.float32) for n in (8_000, 40_000, 100_000, 23_456)]
    batched = enc.embed_utterances(wavs, preprocess=False)
    alone = np.stack([enc.embed_utterances([w], preprocess=False)[0] for w in wavs])
    np.testing.assert_allclose(batched, alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1, atol=1e-6)


# -- The published encoder on real speech --------------------------------------------------------


def _load(path):
    return sf.read(path, dtype="float32")[0]


@pytest.fixture(scope="module")
def test_other(librispeech, published_encoder):
    files = sorted((librispeech / "test-other").glob("*/*.flac"))
    wavs = [_load(f) for f in files]
    speakers = [f.parent.name for f in files]
    ours = published_encoder.embed_utterances(wavs, sources=[str(f) for f in files])
    ref = np.stack([reference_embed(published_encoder.net, w) for w in wavs])
    return speakers, ours, ref


@pytest.fixture(scope="module")
def halves(librispeech, published_encoder):
    files = sorted((librispeech / "train-clean-100").glob("*.flac"))
    wavs, speakers = [], []
    for f in files:
        w = _load(f)
        wavs += [w[: len(w) // 2], w[len(w) // 2:]]
        speakers += [f.name.split("-")[0]] * 2
    ours = published_encoder.embed_utterances(wavs)
    ref = np.stack([reference_embed(published_encoder.net, w) for w in wavs])
    return speakers, ours, ref


def test_matches_published_algorithm_on_test_other(test_other):
    _, ours, ref = test_other
    assert len(ours) == 100
    cos = np.sum(ours * ref, axis=1)
    assert cos.min() >= 0.999 and cos.mean() >= 0.9999


def test_matches_published_algorithm_on_halves(halves):
    _, ours, ref = halves
    assert len(ours) == 502
    cos = np.sum(ours * ref, axis=1)
    assert cos.min() >= 0.999 and cos.mean() >= 0.9999


def test_eer_no_worse_than_published(test_other, halves):
    for (speakers, ours, ref), published in ((test_other, 0.0066), (halves, 0.0266)):
        eer_ours = equal_error_rate(*pairwise_trials(ours, speakers))
        eer_ref = equal_error_rate(*pairwise_trials(ref, speakers))
        assert eer_ours <= eer_ref + 1e-9
        assert eer_ours <= published + 0.0005  # the published encoder's own figure here


def test_short_clip_gives_one_partial(librispeech, published_encoder):
    wav = _load(sorted((librispeech / "test-other").glob("*/*.flac"))[0])
    clip = wav[16_000:16_000 + 4_800]  # 0.3 s of speech
    e = published_encoder.embed_utterance(clip)
    assert e.shape == (256,) and np.isfinite(e).all() and abs(np.linalg.norm(e) - 1) < 1e-5


def test_eer_helper_on_known_cases():
    labels = np.array([1, 1, 0, 0], dtype=bool)
    assert equal_error_rate(np.array([0.9, 0.8, 0.2, 0.1]), labels) == 0.0
    assert equal_error_rate(np.array([0.1, 0.2, 0.8, 0.9]), labels) == 1.0
    assert equal_error_rate(np.array([0.9, 0.3, 0.5, 0.1]), labels) == pytest.approx(0.5)
