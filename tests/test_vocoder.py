"""WaveRNN vocoder: published layout, strict loading, fast vs reference generation, streaming, cancel, CLI."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import soundfile as sf
import torch

from models.checkpoint import CheckpointError
from models.vocoder import Cancelled, VocoderConfig, WaveRNN, WaveRNNVocoder, fast
from models.vocoder.fast import FastWaveRNN, fast_conditioning, sample_
from models.vocoder.folding import (
    Finisher,
    envelopes,
    overlap_add,
    streaming_plan,
    uniform_plan,
)
from models.vocoder.naive import conditioning, naive_generate


def random_net(config: VocoderConfig, seed: int = 0) -> WaveRNN:
    torch.manual_seed(seed)
    net = WaveRNN(config).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, like a trained model
        for name, t in net.state_dict().items():
            if name.endswith("running_var"):
                t.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                t.uniform_(-0.2, 0.2)
    return net


def speech_like_mel(frames: int, seed: int = 0) -> np.ndarray:
    """A real mel (models.audio front-end) of a harmonic signal with a moving pitch, in [-4, 4]."""
    from models.audio import synth_mel

    n = (max(frames, 5) - 1) * 200  # at least one STFT window (800 samples) of signal
    t = np.arange(n) / 16000
    f0 = 120 + 40 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    wav = sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.3 + 0.2 * np.sin(2 * np.pi * 3 * t))
    wav += 0.01 * np.random.default_rng(seed).standard_normal(n)
    mel = synth_mel(wav.astype(np.float32))[:, :frames]
    assert mel.shape == (80, frames)
    return mel


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matmuls gain nothing from threads, and a loaded CI machine makes OpenMP spin."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def small_net() -> WaveRNN:
    return random_net(VocoderConfig.small())


@pytest.fixture(scope="module")
def published_net() -> WaveRNN:
    return random_net(VocoderConfig.rtvc())


# -- layout and loading ----------------------------------------------------------------------------
def test_published_layout_matches_reference(state_dict_layouts):
    net = WaveRNN(VocoderConfig.rtvc())
    ours = [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in net.state_dict().items()]
    theirs = [(e["name"], list(e["shape"]), e["dtype"]) for e in state_dict_layouts["vocoder"]]
    assert ours == theirs
    assert len(ours) == 148
    assert net.num_params() == 4_480_935
    assert isinstance(net.step, torch.nn.Parameter) and not net.step.requires_grad


def test_strict_load_published_pt_and_safetensors(tmp_path, small_net):
    net = random_net(VocoderConfig.rtvc(), seed=1)
    net.step.data.fill_(123)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad])
    path = tmp_path / "vocoder.pt"
    torch.save({"model_state": net.state_dict(), "optimizer_state": opt.state_dict()}, path)
    voc = WaveRNNVocoder.from_file(path, precision="float32")
    for k, v in net.state_dict().items():
        assert torch.equal(voc.net.state_dict()[k], v), k
    assert int(voc.net.step) == 123

    st = WaveRNNVocoder(small_net).save(tmp_path / "small.safetensors")
    back = WaveRNNVocoder.from_file(st)
    assert back.config == VocoderConfig.small()
    assert all(torch.equal(back.net.state_dict()[k], v) for k, v in small_net.state_dict().items())

    bad = dict(net.state_dict())
    bad.pop("fc3.bias")
    torch.save({"model_state": bad}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="missing"):
        WaveRNNVocoder.from_file(tmp_path / "bad.pt")
    torch.save({"model_state": small_net.state_dict()}, tmp_path / "small.pt")
    with pytest.raises(CheckpointError, match="shape"):
        WaveRNNVocoder.from_file(tmp_path / "small.pt")  # .pt is always the published size


# -- folding ---------------------------------------------------------------------------------------
def test_uniform_plan_is_the_published_folding():
    plan = uniform_plan(80_000, 8000, 800)  # T = 400 frames
    assert plan.num_folds == 9 and set(plan.lengths) == {9600}
    assert plan.offsets[1] == 8800 and plan.padded_total == 80_000
    plan = uniform_plan(80_200, 8000, 800)  # leftover samples: one more, padded fold
    assert plan.num_folds == 10 and plan.padded_total >= 80_200


def test_streaming_plan_covers_and_grows():
    plan = streaming_plan(123_456, target=4000, overlap=400, first_target=400, growth=1.25)
    assert plan.offsets[0] == 0 and plan.padded_total >= 123_456
    for i in range(plan.num_folds - 1):
        assert plan.offsets[i + 1] == plan.offsets[i] + plan.lengths[i] - plan.overlap
    assert plan.lengths[0] < plan.lengths[plan.num_folds // 2] <= 4800


def test_equal_power_crossfade():
    fade_in, fade_out = envelopes(800)
    assert np.all(fade_in[:400] == 0) and np.all(fade_out[:400] == 1)
    np.testing.assert_allclose(fade_in[400:] ** 2 + fade_out[400:] ** 2, 1.0, atol=1e-12)


def test_finisher_chunking_is_invisible():
    y = np.random.default_rng(0).uniform(-1, 1, 9000)
    whole = Finisher(8000, 9).push(y)
    fin = Finisher(8000, 9)
    parts = np.concatenate([fin.push(p) for p in np.array_split(y, [1, 333, 4000, 7999, 8500])])
    assert len(whole) == 8000
    np.testing.assert_allclose(parts, whole, atol=1e-6)
    assert whole[-1] == 0.0  # fade-out ends at 0


# -- fast path == network -------------------------------------------------------------------------
def _teacher_forced(net: WaveRNN, precision: str, frames: int = 6, step_impl: str = "auto"):
    c = net.config
    mel = speech_like_mel(frames)
    cond = conditioning(net, mel)
    L = cond.shape[0]
    labels = torch.randint(0, c.n_classes, (1, L), generator=torch.Generator().manual_seed(0))
    plan = uniform_plan(L, target=L, overlap=0)  # one fold over the whole utterance
    assert plan.num_folds == 1
    logits = []
    list(FastWaveRNN(net, precision, step_impl).run(cond, plan, forced=labels, logits_out=logits, block=7))
    fast = torch.cat(logits)  # (L, C)
    x_prev = torch.cat([torch.zeros(1, 1), 2.0 * labels[:, :-1].float() / (c.n_classes - 1) - 1.0], 1)
    mels = torch.nn.functional.pad(torch.from_numpy(mel)[None] / c.mel_max_abs, (c.pad, c.pad))
    with torch.no_grad():
        ref = net(x_prev, mels)[0]  # (L, C)
    return fast, ref


def test_fast_conditioning_equals_upsample_network():
    net = random_net(VocoderConfig.rtvc())
    with torch.no_grad():  # kernels that are not box filters
        for conv in net.upsample.up_layers[1::2]:
            conv.weight.uniform_(-1, 1)
    mel = speech_like_mel(17)
    torch.testing.assert_close(fast_conditioning(net, mel), conditioning(net, mel), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("step_impl", ["torch", "numba"])
def test_fast_float32_logits_equal_network_forward(small_net, step_impl):
    fast, ref = _teacher_forced(small_net, "float32", step_impl=step_impl)
    assert fast.shape == ref.shape
    torch.testing.assert_close(fast, ref, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("step_impl", ["torch", "numba"])
def test_fast_bf16_logits_close_to_float32(published_net, step_impl):
    fast, ref = _teacher_forced(published_net, "bf16", frames=3, step_impl=step_impl)
    err = (fast - ref).abs()
    scale = ref.std().item()
    assert err.max().item() < 0.05 * scale + 0.05, (err.max().item(), scale)
    p, q = torch.softmax(ref, -1), torch.softmax(fast, -1)
    kl = (p * (p.log() - q.log())).sum(-1).mean().item()
    assert kl < 1e-3


# -- fused numba step == torch step ---------------------------------------------------------------
def _generated_labels(net: WaveRNN, precision: str, step_impl: str, frames: int, folds: int, seed: int) -> np.ndarray:
    """Sampled classes (folds, S) of a run over `folds` folds without overlap (y is the class itself)."""
    c = net.config
    cond = conditioning(net, speech_like_mel(frames))
    L = cond.shape[0]
    plan = uniform_plan(L, target=L // folds, overlap=0)
    y = np.concatenate([y for _, y in FastWaveRNN(net, precision, step_impl).run(cond, plan, seed=seed)])
    labels = np.rint((y + 1.0) * (c.n_classes - 1) / 2.0).astype(np.int64)
    return labels[: plan.num_folds * plan.lengths[0]].reshape(plan.num_folds, -1)


def test_bf16_bit_conversion_equals_torch():
    """fused.py's float32 <-> bf16 (raw uint16 bits) is torch's round-to-nearest-even, bit for bit."""
    from models.vocoder import fused

    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32)
    bits[:1000] = (bits[:1000] & 0xFFFF0000) | 0x8000  # exact ties: round half to even
    bits[1000:2000] &= 0x807FFFFF  # subnormals
    bits[2000:2009] = [0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0, 0x80000000, 0x3F808000, 0x3F818000,
                       0x7FC00000]  # max (rounds to inf), +-inf, +-0, ties, NaN
    x = bits.view(np.float32)
    for size in (len(x), 15):  # torch's vectorised and scalar tails
        ours = np.empty(size, np.uint16)
        fused.to_bf16(x[:size], ours)
        ref = torch.from_numpy(x[:size].copy()).to(torch.bfloat16)
        nan = np.isnan(x[:size])
        np.testing.assert_array_equal(ours[~nan], ref.view(torch.int16).numpy().view(np.uint16)[~nan])
        back = np.empty(size, np.float32)
        fused.from_bf16(ours, back)
        assert np.all(np.isnan(back[nan]))
        np.testing.assert_array_equal(back[~nan], ref.float().numpy()[~nan])


def test_fused_sampler_equals_torch_sampler():
    """Same logits, same uniforms: fused.sample picks the class torch's sample_ picks."""
    from models.vocoder import fused

    n, C = 4000, 512
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(n, C, generator=gen) * torch.rand(n, 1, generator=gen) * 8  # flat to peaked
    u = torch.rand(n, 1, generator=gen)
    ref = torch.empty(n, 1, dtype=torch.long)
    sample_(logits, u, torch.empty(n, C), torch.empty(n, C), torch.empty(n, 1), ref)
    labels, xprev, out_logits = np.zeros((n, 1), np.int16), np.zeros(n, np.float32), np.empty((n, C), np.float32)
    fused.sample(logits.numpy(), np.zeros(C, np.float32), u.numpy(), 0, out_logits, np.empty(C, np.float32),
                 np.empty(C // 16), np.zeros((1, 1), np.int64), False, xprev, labels, 0)
    agree = np.mean(labels[:, 0] == ref[:, 0].numpy())
    assert agree >= 0.999, agree  # a mismatch needs u within float32 rounding of a CDF step
    np.testing.assert_array_equal(out_logits, logits.numpy())
    np.testing.assert_allclose(xprev, labels[:, 0] * np.float32(2 / (C - 1)) - 1, atol=1e-7)


def test_numba_float32_step_equals_torch_step(small_net):
    """Teacher-forced logits agree to float32 rounding; a seeded run samples the same classes."""
    fast_t, _ = _teacher_forced(small_net, "float32", step_impl="torch")
    fast_n, _ = _teacher_forced(small_net, "float32", step_impl="numba")
    torch.testing.assert_close(fast_n, fast_t, atol=1e-5, rtol=1e-5)
    ref = _generated_labels(small_net, "float32", "torch", frames=25, folds=6, seed=3)
    ours = _generated_labels(small_net, "float32", "numba", frames=25, folds=6, seed=3)
    assert ref.size >= 4000 and len(np.unique(ref)) > 20
    np.testing.assert_array_equal(ours, ref)


def test_numba_bf16_step_agrees_with_torch_bf16(published_net):
    """bf16 GEMM inputs are rounded from float32 states computed in a different order, so an
    occasional bf16 ulp differs; the sampled classes still agree (fraction printed, >= 0.99)."""
    ref = _generated_labels(published_net, "bf16", "torch", frames=9, folds=4, seed=1)
    ours = _generated_labels(published_net, "bf16", "numba", frames=9, folds=4, seed=1)
    agree = float(np.mean(ours == ref))
    print(f"numba vs torch bf16 label agreement: {agree:.4f} over {ref.size} samples")
    assert ref.size >= 1500 and agree >= 0.99, agree


def test_step_impl_choice_and_fallback(small_net, monkeypatch, caplog):
    with pytest.raises(ValueError, match="step_impl"):
        FastWaveRNN(small_net, step_impl="cuda")
    assert FastWaveRNN(small_net, step_impl="torch").resolved_step_impl() == "torch"
    assert FastWaveRNN(small_net, step_impl="auto").resolved_step_impl() == "numba"
    # numba unavailable (not installed, or a compile error): "auto" falls back, "numba" says why.
    monkeypatch.setitem(fast._numba_status, "float32", ImportError("No module named 'numba'"))
    with caplog.at_level("WARNING"):
        assert FastWaveRNN(small_net, step_impl="auto").resolved_step_impl() == "torch"
    assert "No module named 'numba'" in caplog.text
    with pytest.raises(RuntimeError, match="numba"):
        FastWaveRNN(small_net, step_impl="numba").resolved_step_impl()
    odd = random_net(dataclasses.replace(VocoderConfig.small(), bits=3))
    assert FastWaveRNN(odd, step_impl="auto").resolved_step_impl() == "torch"  # 8 classes: not a multiple of 16


# -- generation ------------------------------------------------------------------------------------
def test_vocode_length_stream_equals_vocode_and_seeding(small_net):
    voc = WaveRNNVocoder(small_net, precision="float32")
    mel = speech_like_mel(40)
    wav = voc.vocode(mel, seed=5)
    assert wav.dtype == np.float32 and wav.shape == (39 * 200,) and np.all(np.isfinite(wav))
    chunks = list(voc.stream(mel, seed=5))
    assert len(chunks) > 3
    np.testing.assert_array_equal(np.concatenate(chunks), wav)
    np.testing.assert_array_equal(voc.vocode(mel, seed=5), wav)
    assert not np.array_equal(voc.vocode(mel, seed=6), wav)


def test_streamed_chunks_match_whole_overlap_add(small_net):
    """The frontier logic emits exactly the published overlap-add of the generated folds."""
    c = small_net.config
    cond = conditioning(small_net, speech_like_mel(60))
    plan = streaming_plan(cond.shape[0], target=1200, overlap=400, first_target=300, growth=1.5)
    S = max(plan.lengths)
    labels = torch.randint(0, c.n_classes, (plan.num_folds, S), generator=torch.Generator().manual_seed(1))
    parts = list(FastWaveRNN(small_net).run(cond, plan, forced=labels, block=50))
    starts = [s for s, _ in parts]
    assert starts == sorted(starts) and starts[0] == 0
    streamed = np.concatenate([y for _, y in parts])
    values = 2.0 * labels.numpy().astype(np.float64) / (c.n_classes - 1) - 1.0
    whole = overlap_add([values[i, :n] for i, n in enumerate(plan.lengths)], plan)
    np.testing.assert_allclose(streamed, whole, atol=1e-12)


def _stats(w: np.ndarray) -> np.ndarray:
    """Robust level statistics: median |x|, RMS of the pre-emphasised signal, 90th percentile |diff|."""
    d = w[1:] - 0.97 * w[:-1]
    return np.array([np.median(np.abs(w)), np.sqrt(np.mean(d ** 2)), np.percentile(np.abs(np.diff(w)), 90)])


def test_fast_matches_naive_reference_statistically(small_net):
    """Same weights, same mel, same published folding: fast float32/bf16 and the reference loop
    produce audio with the same statistics (different random streams, same distribution)."""
    mel = speech_like_mel(150)
    ref = np.stack([_stats(naive_generate(small_net, mel, 2000, 400, seed=s)) for s in range(2)]).mean(0)
    for precision in ("float32", "bf16"):
        voc = WaveRNNVocoder(small_net, precision=precision, schedule="published", target=2000, overlap=400)
        ours = np.stack([_stats(voc.vocode(mel, seed=s)) for s in range(2)]).mean(0)
        np.testing.assert_allclose(ours, ref, rtol=0.15, err_msg=precision)


def test_sampler_draws_from_the_softmax():
    """Inverse-CDF sampling reproduces softmax probabilities (chi-square-like bound per class)."""
    C, n = 512, 200_000
    logits = torch.randn(C) * 2.0
    rows = logits.expand(n, C).contiguous()
    u = torch.rand(n, 1, generator=torch.Generator().manual_seed(0))
    out = torch.empty(n, 1, dtype=torch.long)
    sample_(rows, u, torch.empty(n, C), torch.empty(n, C), torch.empty(n, 1), out)
    freq = np.bincount(out[:, 0].numpy(), minlength=C) / n
    p = torch.softmax(logits, -1).numpy()
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p / n) + 2e-5)


def test_cancel_stops_within_a_step_and_model_stays_usable(small_net):
    voc = WaveRNNVocoder(small_net)
    mel = speech_like_mel(80)
    cancel = threading.Event()
    calls = []

    def check() -> bool:
        calls.append(1)
        if len(calls) == 150:
            cancel.set()
        return cancel.is_set()

    with pytest.raises(Cancelled):
        list(voc.stream(mel, seed=0, cancel=check))
    assert len(calls) == 150  # no step ran after the request
    with pytest.raises(Cancelled):
        voc.vocode(mel, cancel=cancel)
    wav = voc.vocode(mel, seed=0)
    assert wav.shape == (79 * 200,) and np.all(np.isfinite(wav))


def test_implements_the_vocoder_protocol(small_net):
    from models.vocoding import Vocoder

    voc = WaveRNNVocoder(small_net)
    assert isinstance(voc, Vocoder) and voc.sample_rate == 16_000
    assert voc.precision in ("float32", "bf16")  # "auto" resolved
    with pytest.raises(ValueError, match="precision"):
        WaveRNNVocoder(small_net, precision="fp8")


def test_progress_reports_fractions(small_net):
    seen = []
    WaveRNNVocoder(small_net).vocode(speech_like_mel(20), seed=0, progress=lambda f, msg: seen.append(f))
    assert len(seen) > 1 and seen == sorted(seen) and seen[-1] == 1.0


# -- CLI -------------------------------------------------------------------------------------------
def test_cli_vocode_published_layout(tmp_path):
    from toolbox.cli import main

    net = random_net(VocoderConfig.rtvc(), seed=2)
    ckpt = tmp_path / "vocoder.pt"
    torch.save({"model_state": net.state_dict(), "optimizer_state": {}}, ckpt)
    mel_path = tmp_path / "mel.npy"
    np.save(mel_path, speech_like_mel(12))
    out = tmp_path / "out.wav"
    assert main(["vocode", str(mel_path), "-o", str(out), "--vocoder", str(ckpt), "--seed", "1"]) == 0
    wav, sr = sf.read(out, dtype="float32")
    assert sr == 16000 and wav.shape == (11 * 200,) and np.all(np.isfinite(wav)) and wav.std() > 0

    np.save(mel_path, np.zeros((3, 4), np.float32))
    assert main(["vocode", str(mel_path), "-o", str(out), "--vocoder", str(ckpt)]) == 1
