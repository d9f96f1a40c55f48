"""Tacotron: published layout (strict load, r from the file), batch == alone, seeds, stop and length
guard, trimming, teacher-forced training pass, and refusal of bad weights files."""

from __future__ import annotations

import copy
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import CheckpointError
from models.synthesizer import Synthesizer, Tacotron, TacotronConfig
from models.synthesizer.tacotron import _trim_silence
from models.text import TextError
from models.vocoding import Cancelled

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_published_state(seed: int = 0, r: int = 2) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = Tacotron(TacotronConfig.rtvc())
    with torch.no_grad():  # random BatchNorm statistics too, so eval mode is really exercised
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.1)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 1.5)
        model.decoder.r.fill_(r)
        model.step.fill_(295_000)
    return model.state_dict()


def save_published(path: Path, state: dict[str, torch.Tensor]) -> Path:
    optimizer = {"state": {}, "param_groups": [{"lr": 1e-5, "params": list(range(125))}]}
    torch.save({"model_state": state, "optimizer_state": optimizer}, path)
    return path


@pytest.fixture(scope="module")
def published_pt(tmp_path_factory) -> Path:
    return save_published(tmp_path_factory.mktemp("synth") / "synthesizer.pt", random_published_state())


@pytest.fixture(scope="module")
def synth(published_pt) -> Synthesizer:
    return Synthesizer.from_file(published_pt, precision="fp32")


def unit(seed: int, n: int = 1) -> np.ndarray:
    e = np.random.default_rng(seed).random((n, 256)).astype(np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def test_layout_equals_the_published_state_dict(state_dict_layouts):
    state = Tacotron(TacotronConfig.rtvc()).state_dict()
    expected = [(e["name"], tuple(e["shape"]), e["dtype"]) for e in state_dict_layouts["synthesizer"]]
    assert [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in state.items()] == expected
    assert len(state) == 170
    assert Tacotron(TacotronConfig.rtvc()).num_params() == 30_870_177
    assert state_dict_layouts["checkpoint_layout"]["synthesizer.pt"] == ["model_state", "optimizer_state"]


def test_published_file_loads_strictly_with_r_from_the_file(synth, tmp_path):
    assert synth.r == 2 and synth.model.config == TacotronConfig.rtvc()
    state = random_published_state(seed=1, r=5)
    path = tmp_path / "r5.pt"
    torch.save({"model_state": state}, path)  # a first save of a run: no optimizer
    assert Synthesizer.from_file(path).r == 5
    del state["decoder.stop_proj.bias"]
    torch.save({"model_state": state}, path)
    with pytest.raises(CheckpointError, match="missing: decoder.stop_proj.bias"):
        Synthesizer.from_file(path)


def test_batch_item_equals_the_same_sentence_alone(synth):
    texts = ["Hello there, how are you today?", "Hi.", "A somewhat longer sentence, to pad the others."]
    embeds = unit(0, 3)
    for precision in ("fp32", synth_default_precision()):
        s = Synthesizer(synth.model, precision=precision)
        batch = s.synthesize(texts, embeds, seed=10)
        for i, text in enumerate(texts):
            (alone,) = s.synthesize([text], embeds[i], seed=10 + i)
            assert alone.shape == batch[i].shape
            assert np.abs(alone - batch[i]).max() <= 1e-5, precision


def synth_default_precision() -> str:
    from models.synthesizer.synthesizer import default_precision

    return default_precision("cpu")


def test_seed_reproduces_and_varies(synth):
    a = synth.synthesize("Good morning.", unit(1)[0], seed=3)[0]
    b = synth.synthesize("Good morning.", unit(1)[0], seed=3)[0]
    c = synth.synthesize("Good morning.", unit(1)[0], seed=4)[0]
    assert a.dtype == np.float32 and a.shape[0] == 80
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


def _with_stop_bias(synth: Synthesizer, bias: float) -> Synthesizer:
    model = copy.deepcopy(synth.model)
    model.decoder.stop_proj.bias.data.fill_(bias)
    model.post_proj.weight.data.zero_()  # final mel = 0 everywhere: nothing is trimmed
    return Synthesizer(model, precision="fp32")


def test_each_item_stops_on_its_own_stop_token(synth):
    # stop logit = 1e4 * (speaker[0] - 0.5): the first speaker stops as early as allowed (past 10
    # frames), the second never does and runs to its length guard, in the same batch
    s = _with_stop_bias(synth, -0.5e4)
    s.model.decoder.stop_proj.weight.data.zero_()
    s.model.decoder.stop_proj.weight.data[0, s.config.lstm_dims + s.config.encoder_dims] = 1e4
    speakers = np.eye(2, 256, dtype=np.float32)
    texts = ["A much longer text than the other.", "Hi."]
    mels, aligns = s.synthesize(texts, speakers, seed=0, return_alignments=True)
    assert [m.shape[1] for m in mels] == [14, s.config.max_decoder_frames(4)] == [14, 60]
    assert [a.shape for a in aligns] == [(7, len(texts[0]) + 1), (30, 4)]


def test_a_model_that_never_stops_is_bounded_by_its_text_length(synth):
    s = _with_stop_bias(synth, -1e4)
    texts = ["Hi.", "Hello you."]
    mels = s.synthesize(texts, unit(3)[0], seed=0)
    guards = [s.config.max_decoder_frames(len(t) + 1) for t in texts]  # + EOS
    assert [m.shape[1] for m in mels] == guards == [60, 130]


def test_trailing_quiet_frames_are_trimmed():
    mel = torch.full((80, 10), -4.0)
    mel[:, :6] = 0.0
    mel[3, 7] = -3.0  # louder than -3.4: kept, and the quiet frame before it too
    assert _trim_silence(mel, -3.4).shape == (80, 8)
    assert _trim_silence(torch.full((80, 5), -4.0), -3.4).shape == (80, 1)  # never empty


def test_attention_gives_padding_zero_weight(synth):
    texts = ["Hi.", "Hello there my friend."]
    _, aligns = synth.synthesize(texts, unit(4)[0], seed=1, return_alignments=True)
    np.testing.assert_allclose(aligns[0].sum(axis=1), 1.0, atol=1e-5)  # all weight on its own 4 symbols


def test_text_and_embedding_errors(synth):
    with pytest.raises(TextError):
        synth.synthesize("   ", unit(0)[0])
    with pytest.raises(ValueError, match="embeddings"):
        synth.synthesize(["a b", "c d"], unit(0, 3))


def test_progress_and_cancel(synth):
    seen = []
    synth.synthesize(["Hello.", "World."], unit(5)[0], seed=0, progress=lambda f, m: seen.append(f))
    assert seen and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    cancel = threading.Event()
    cancel.set()
    s = _with_stop_bias(synth, -1e4)
    with pytest.raises(Cancelled):
        s.synthesize("Hello.", unit(5)[0], cancel=cancel)


def test_teacher_forced_forward_trains_the_small_preset():
    torch.manual_seed(0)
    config = TacotronConfig.small()
    model = Tacotron(config).train()
    B, T = 2, 4 * config.r
    chars = torch.tensor([[5, 30, 40, 1], [7, 31, 1, 0]])
    out = model(chars, torch.tensor([4, 3]), torch.rand(B, 80, T) * 8 - 4, torch.rand(B, 256))
    assert out["mel_dec"].shape == out["mel_post"].shape == (B, 80, T)
    assert out["attention"].shape == (B, T // config.r, 4) and out["stop_logits"].shape == (B, T)
    assert torch.allclose(out["attention"][1, :, 3], torch.zeros(1))  # the padded symbol
    loss = sum(v.float().square().mean() for v in out.values())
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert int(model.step) == 1


def test_safetensors_round_trip_keeps_config_and_output(tmp_path):
    torch.manual_seed(0)
    s = Synthesizer(Tacotron(TacotronConfig.small()), precision="fp32")
    path = s.save(tmp_path / "small.safetensors")
    loaded = Synthesizer.from_file(path, precision="fp32")
    assert loaded.config == TacotronConfig.small() and loaded.r == 3
    a = s.synthesize("Hi there.", unit(6)[0], seed=2)[0]
    np.testing.assert_array_equal(a, loaded.synthesize("Hi there.", unit(6)[0], seed=2)[0])


class _RunsCode:
    def __reduce__(self):
        return (Path.touch, (Path(_RunsCode.marker),))


@pytest.mark.parametrize("kind", ["html", "truncated", "pickle"])
def test_bad_weights_files_are_refused_in_one_line(kind, published_pt, tmp_path):
    path = tmp_path / "synthesizer.pt"
    marker = tmp_path / "code-ran"
    if kind == "html":
        path.write_text("<!DOCTYPE html><html><body>Repository not found</body></html>")
    elif kind == "truncated":
        path.write_bytes(published_pt.read_bytes()[:5_000_000])
    else:
        _RunsCode.marker = str(marker)
        with open(path, "wb") as f:
            pickle.dump({"model_state": _RunsCode()}, f)
    with pytest.raises(CheckpointError) as e:
        Synthesizer.from_file(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)
    assert not marker.exists()


def test_default_int8_decoder_stays_close_to_fp32(synth):
    s = _with_stop_bias(synth, -1e4)  # runs to the length guard: same number of frames
    s.model.post_proj.weight.data.copy_(synth.model.post_proj.weight.data)
    fp32 = s.synthesize("Hello you.", unit(7)[0], seed=4)[0]
    for precision in ("int8", "fp16"):
        other = Synthesizer(s.model, precision=precision).synthesize("Hello you.", unit(7)[0], seed=4)[0]
        assert other.shape == fp32.shape and np.abs(other - fp32).max() < 1e-2, precision


def test_bench_command_reports_ms_per_frame(capsys):
    import json

    from toolbox.cli import main

    assert main(["bench", "synthesizer", "--json", "--frames", "8", "--batches", "1,2", "--precisions",
                 "auto,fp32", "--repeats", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["parameters"] == 30_870_177 and report["r"] == 2
    assert [(r["precision"], r["batch"]) for r in report["results"]] == [
        (f"auto ({report['auto_precision']})", 1), (f"auto ({report['auto_precision']})", 2), ("fp32", 1),
        ("fp32", 2)]
    assert all(r["ms_per_frame"] > 0 for r in report["results"])
    assert report["fp32_max_abs_diff_vs_naive"] < 1e-5  # the fast step computes what the naive one does
