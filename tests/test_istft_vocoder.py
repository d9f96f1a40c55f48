"""The iSTFT vocoder: exact inverse STFT, streaming == whole, cancel, strict loading, selection by
name, and training through the real CLI (loss falls, exact resume, 2-process torchrun)."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import threading

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file

from models.audio import stft, synth_mel
from models.checkpoint import CheckpointError
from models.vocoder import load_vocoder
from models.vocoder.istft import IstftConfig, IstftNet, overlap_add
from models.vocoder.istft_vocoder import IstftVocoder
from models.vocoders import resolve_vocoder
from models.vocoding import Cancelled
from tests.conftest import run_torchrun
from toolbox.cli import main


def random_vocoder(config: IstftConfig | None = None, seed: int = 0) -> IstftVocoder:
    config = config or IstftConfig.tiny()
    torch.manual_seed(seed)
    net = IstftNet(config)
    with torch.no_grad():  # beyond the init's small weights, so every frame and bin matters
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return IstftVocoder(net)


def voice_like(seconds: float, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.1 * np.sin(2 * np.pi * 1.3 * t))) / 16000
    wav = sum(np.sin(k * phase) / k for k in range(1, 12)) * 0.2 * (1.1 + np.sin(2 * np.pi * 3 * t))
    return (wav + 0.003 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def test_overlap_add_inverts_the_projects_stft():
    x = voice_like(1.0)
    spec = torch.from_numpy(stft(x, 800, 200, 800))[None]  # (1, 401, 81)
    y = overlap_add(spec, torch.hann_window(800), 200)[0].numpy()
    assert y.shape == ((spec.shape[-1] - 1) * 200,)
    assert np.abs(y - x[: len(y)]).max() < 1e-5  # edges included


@pytest.mark.parametrize("frames", [1, 2, 3, 17, 40, 333])
def test_stream_equals_whole(frames):
    voc = random_vocoder(IstftConfig(dim=48, intermediate=96, layers=3))
    mel = np.random.default_rng(frames).uniform(-4, 2, (80, frames)).astype(np.float32)
    chunks = list(voc.stream(mel))
    with torch.inference_mode():
        whole = voc.net.waveform(torch.from_numpy(mel)[None])[0].clamp(-1, 1).numpy()
    joined = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    assert joined.shape == whole.shape == ((frames - 1) * 200,)
    if frames > 1:
        assert np.abs(whole).max() > 1e-3  # not trivially zero
        assert np.abs(joined - whole).max() < 1e-4
        assert len(chunks[0]) == min(frames - 1, voc.first_chunk) * 200  # the short first chunk
    np.testing.assert_array_equal(voc.vocode(mel), joined)


def test_cancel_stops_within_one_chunk_and_progress_reaches_one():
    voc = random_vocoder()
    mel = np.zeros((80, 400), np.float32) - 2
    cancel, seen, fractions = threading.Event(), [], []
    with pytest.raises(Cancelled):
        for chunk in voc.stream(mel, cancel=cancel):
            seen.append(chunk)
            cancel.set()
    assert len(seen) == 1
    voc.vocode(mel, progress=lambda f, _: fractions.append(f))
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) == len(voc.chunks(400))
    assert voc.vocode(mel).shape == (399 * 200,)  # still usable after a cancel


def test_bad_mel_is_refused():
    voc = random_vocoder()
    with pytest.raises(ValueError, match=r"\(80, T\)"):
        voc.vocode(np.zeros((40, 10), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        voc.vocode(np.full((80, 10), np.nan, np.float32))


def test_save_load_round_trip_and_strict_loading(tmp_path):
    voc = random_vocoder()
    path = voc.save(tmp_path / "v.safetensors", {"step": "7"})
    loaded = load_vocoder(path)
    assert isinstance(loaded, IstftVocoder) and loaded.config == IstftConfig.tiny()
    mel = np.random.default_rng(1).uniform(-4, 1, (80, 30)).astype(np.float32)
    np.testing.assert_array_equal(loaded.vocode(mel), voc.vocode(mel))

    state = load_file(str(path))
    from models.checkpoint import save_safetensors

    wrong = {**state, "head.weight": state["head.weight"][:, :-1]}
    save_safetensors(tmp_path / "wrong.safetensors", wrong, "istft-vocoder", IstftConfig.tiny())
    with pytest.raises(CheckpointError, match="not a iSTFT vocoder checkpoint of this layout"):
        IstftVocoder.from_file(tmp_path / "wrong.safetensors")
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        IstftVocoder.from_file(tmp_path / "cut.safetensors")
    (tmp_path / "page.safetensors").write_text("<!DOCTYPE html><html><body>Not found</body></html>")
    with pytest.raises(CheckpointError, match="HTML") as e:
        load_vocoder(tmp_path / "page.safetensors")
    assert "\n" not in str(e.value)


def test_resolve_vocoder_by_path_and_griffin_lim(tmp_path):
    from models.griffinlim import GriffinLim
    from models.store import ModelStore

    path = random_vocoder().save(tmp_path / "mine.safetensors")
    assert isinstance(resolve_vocoder(str(path)), IstftVocoder)
    assert isinstance(resolve_vocoder("GriffinLim"), GriffinLim)
    store = ModelStore(cache_dir=tmp_path / "empty-cache")
    with pytest.raises(CheckpointError, match=r"nope: no such vocoder file or name \(names: griffinlim"):
        resolve_vocoder("nope", store)


# -- training through the CLI --------------------------------------------------------------------


@pytest.fixture(scope="module")
def audio_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("voc_audio")
    for i, f0 in enumerate((110.0, 150.0, 210.0)):
        sf.write(root / f"spk{i}.wav", voice_like(1.5, f0, seed=i), 16000)
    return root


def train_config(tmp_path, **train) -> str:
    cfg = {"model": {"dim": 32, "intermediate": 64, "layers": 2},
           "train": {"batch_size": 4, "segment_frames": 16, "warmup_steps": 1, "save_every": 1000,
                     "log_every": 1, "speed_probability": 0.0, "gain_db": [0.0, 0.0], "learning_rate": 3e-3,
                     **train}}
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def metrics(run) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_training_lowers_the_loss(tmp_path, audio_folder, one_torch_thread):
    run = tmp_path / "run"
    assert main(["train", "istft-vocoder", str(run), "--data", str(audio_folder),
                 "--config", train_config(tmp_path), "--steps", "40"]) == 0
    m = metrics(run)
    first, last = np.mean([x["mel"] for x in m[:5]]), np.mean([x["mel"] for x in m[-5:]])
    assert last < 0.8 * first, (first, last)
    voc = load_vocoder(run / "model.safetensors")
    assert isinstance(voc, IstftVocoder)
    assert np.all(np.isfinite(voc.vocode(synth_mel(voice_like(0.5)))))


def test_exact_resume_with_discriminators(tmp_path, audio_folder, one_torch_thread):
    cfg = train_config(tmp_path, adversarial_from=2, speed_probability=0.5, gain_db=[-6.0, 0.0])
    straight, split = tmp_path / "straight", tmp_path / "split"
    base = ["train", "istft-vocoder"]
    assert main(base + [str(straight), "--data", str(audio_folder), "--config", cfg, "--steps", "6"]) == 0
    assert main(base + [str(split), "--data", str(audio_folder), "--config", cfg, "--steps", "3"]) == 0
    assert main(base + [str(split), "--data", str(audio_folder), "--resume", "--steps", "6"]) == 0
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(split / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    assert "d" in metrics(straight)[-1]  # the discriminators took part
    state = torch.load(split / "state.pt", weights_only=True)
    assert {"discriminators", "optimizer_d"} <= state.keys()


def test_torchrun_two_processes(tmp_path, audio_folder):
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "toolbox.cli", "train", "istft-vocoder", str(run), "--data", str(audio_folder),
           "--config", train_config(tmp_path, adversarial_from=1), "--steps", "2"]
    proc = run_torchrun(cmd, run)
    assert proc.returncode == 0, proc.stderr[:3000] + " ... " + proc.stderr[-1500:]
    assert [m["world_size"] for m in metrics(run)] == [2, 2]


# -- fine-tuning on synthesizer-aligned mels -------------------------------------------------------


def test_gta_preprocess_and_aligned_segments(tmp_path, audio_folder, one_torch_thread):
    from models.data.gta import is_gta_folder
    from models.text.phones import PAD_PHONE_ID
    from models.training.istft_vocoder import AudioPool, IstftTrainConfig, training_batch

    phones = tmp_path / "phones"
    (phones / "items").mkdir(parents=True)
    wav = sf.read(audio_folder / "spk1.wav", dtype="float32")[0]
    mel = synth_mel(wav)  # (80, T)
    n = mel.shape[1]
    durations = np.array([n // 3, n // 3, n - 2 * (n // 3)])
    ids = np.array([p for p in range(1, 10) if p != PAD_PHONE_ID][:3])
    np.savez(phones / "items" / "spk1.npz", mel=mel.astype(np.float16), phones=ids, durations=durations,
             embed=np.full(256, 1 / 16, np.float32), pitch=np.log([120, np.nan, 130]).astype(np.float32),
             energy=np.array([-1.0, -2.0, -1.5], np.float32))  # what `preprocess variance` adds
    (phones / "metadata.jsonl").write_text(json.dumps({"id": "spk1", "speaker": "s1", "source": "real",
                                                       "frames": int(n), "words": 3}) + "\n")
    out = tmp_path / "gta"
    assert main(["preprocess", "gta", str(phones), str(out), "--audio-root", str(audio_folder)]) == 0
    assert is_gta_folder(out) and not is_gta_folder(phones)
    z = np.load(out / "items" / "spk1.npz")
    assert z["mel_gta"].shape == mel.shape and z["audio"].shape == wav.shape
    assert np.isfinite(z["mel_gta"].astype(np.float32)).all() and z["mel_gta"].std() > 0.1

    # Segments pair each predicted mel frame with the audio around that frame: with the real mel in
    # place of the prediction, the segment's own mel must equal the stored one.
    np.savez(out / "items" / "spk1.npz", mel_gta=mel, mel=mel, audio=wav)
    pool = AudioPool(out, 0.9, extra_audio=audio_folder)
    assert len(pool.gta) == 1 and len(pool.waves) == 4
    rng = np.random.default_rng(3)
    for _ in range(5):
        m, a = pool.gta_segment(rng, 16, 200, 400)
        np.testing.assert_allclose(synth_mel(a)[:, 2:18], m, atol=2e-3)
    cfg = IstftTrainConfig(batch_size=3, segment_frames=16, gta_share=1.0)
    mels, audio, gta = training_batch(pool, rng, cfg, IstftConfig.tiny())
    assert mels.shape == (3, 80, 16) and audio.shape == (3, 15 * 200 + 800) and gta.tolist() == [True] * 3
    _, _, gta = training_batch(pool, rng, dataclasses.replace(cfg, gta_share=0.0), IstftConfig.tiny())
    assert gta.tolist() == [False] * 3


def test_phase_losses_skip_the_chosen_items_and_consistency_is_zero_for_a_real_spectrum():
    from models.training.istft_vocoder import consistency_loss, phase_losses
    from models.vocoder.istft import overlap_add, spectrum

    torch.manual_seed(0)
    true = torch.rand(3, 401, 20) * 6 - 3
    pred = true.clone()
    pred[1] += 1.0  # only item 1 is wrong
    assert float(phase_losses(pred, true)["phase"]) == pytest.approx(1 / 3, abs=1e-5)
    keep = torch.tensor([True, False, True])
    assert all(float(v) == pytest.approx(0.0, abs=1e-6) for v in phase_losses(pred, true, keep).values())
    none = phase_losses(pred, true, torch.zeros(3, dtype=torch.bool))
    assert all(float(v) == 0.0 for v in none.values())

    # A spectrum taken from real audio is consistent: its overlap-add re-analyses to itself; random
    # phases are not.
    config = IstftConfig.tiny()
    window = torch.hann_window(config.n_fft)
    t = np.arange(16000) / 16000
    wav = torch.from_numpy((np.sin(2 * np.pi * (120 + 200 * t) * t) * (1 + np.sin(7 * t))
                            + 0.05 * np.random.default_rng(0).normal(size=t.size)).astype(np.float32))[None]
    spec = torch.stft(wav, config.n_fft, config.hop, window=window, center=True, return_complex=True)
    log_mag, phase = torch.log(spec.abs().clamp_min(1e-5)), torch.angle(spec)
    audio = overlap_add(spectrum(log_mag, phase), window, config.hop)
    assert float(consistency_loss(log_mag, audio, config, window)) < 0.01
    noisy = torch.rand_like(phase) * 2 * math.pi
    audio = overlap_add(spectrum(log_mag, noisy), window, config.hop)
    assert float(consistency_loss(log_mag, audio, config, window)) > 0.3


def test_synthesized_mels_get_the_vocoders_contrast_and_real_ones_do_not(tmp_path):
    from models.pipeline import Pipeline
    from models.vocoding import enhance_contrast, synthesized_input

    rng = np.random.default_rng(0)
    mel = np.clip(rng.normal(-1.0, 0.8, (80, 50)), -4, 4).astype(np.float32)
    mel[:, :5] = -4.0  # silence stays silence
    out = enhance_contrast(mel, 1.5)
    np.testing.assert_array_equal(out[:, :5], mel[:, :5])
    sound = mel[:, 5:]
    mean = sound.mean(axis=1, keepdims=True)
    unclipped = np.abs(mean + 1.5 * (sound - mean)) < 4
    np.testing.assert_allclose(out[:, 5:][unclipped], (mean + 1.5 * (sound - mean))[unclipped], atol=1e-5)
    assert out.min() >= -4 and out.max() <= 4 and not np.shares_memory(out, mel)

    net = IstftNet(dataclasses.replace(IstftConfig.tiny(), synthesized_mel_contrast=1.3))
    path = IstftVocoder(net).save(tmp_path / "v.safetensors")
    voc = IstftVocoder.from_file(path)
    assert voc.synthesized_mel_contrast == pytest.approx(1.3)
    np.testing.assert_array_equal(synthesized_input(mel, voc), enhance_contrast(mel, 1.3))
    assert synthesized_input(mel, object()) is mel  # Griffin-Lim, WaveRNN: as it is
    with pytest.raises(ValueError, match="synthesized_mel_contrast"):
        IstftConfig(synthesized_mel_contrast=0.5)

    seen = []

    class Spy:
        sample_rate, synthesized_mel_contrast = 16000, 1.3

        def vocode(self, m, **_):
            seen.append(m)
            return np.zeros((m.shape[1] - 1) * 200, np.float32)

    Pipeline(None, None, Spy()).vocode([mel])
    np.testing.assert_array_equal(seen[0], enhance_contrast(mel, 1.3))


# -- the bundled model -----------------------------------------------------------------------------


def test_bundled_vocoder_is_the_offline_default(tmp_path, monkeypatch):
    """Nothing downloaded: `resolve_vocoder(None)` (clone, vocode, eval, the API) and the toolbox's
    picker choose the bundled iSTFT vocoder; Griffin-Lim stays selectable."""
    from models.store import ModelStore
    from models.vocoders import vocoder_names
    from toolbox.gui.engine import StoreEngine

    monkeypatch.setenv("SV2TTS_MODELS_DIR", str(tmp_path))
    store = ModelStore()
    assert store.default("vocoder").name == "demo-vocoder.safetensors"
    voc = resolve_vocoder(None, store)
    assert isinstance(voc, IstftVocoder) and voc.name == "demo-vocoder.safetensors"
    assert vocoder_names(store) == ["demo-vocoder", "griffinlim"]
    assert StoreEngine(store=store).defaults()["vocoder"] == "demo-vocoder"
    # a real mel of a voice-like signal comes back close to the original (it is a trained model)
    x = voice_like(1.0)
    y = voc.vocode(synth_mel(x))
    from models.training.gan import MultiScaleMelLoss

    loss = MultiScaleMelLoss()(torch.from_numpy(y)[None], torch.from_numpy(x[: len(y)])[None])
    assert float(loss) < 0.5, float(loss)


def test_clone_uses_the_bundled_vocoder_offline(tmp_path, monkeypatch, caplog, one_torch_thread):
    import logging

    monkeypatch.setenv("SV2TTS_MODELS_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ref = tmp_path / "ref.wav"
    sf.write(ref, voice_like(3.0, 130.0), 16000)
    out = tmp_path / "out.wav"
    with caplog.at_level(logging.INFO):
        assert main(["clone", "--voice", str(ref), "--text", "Hello there.", "-o", str(out)]) == 0
    assert "loaded iSTFT vocoder demo-vocoder.safetensors" in caplog.text
    wav, sr = sf.read(out)
    assert sr == 16000 and len(wav) > 8000 and np.abs(wav).max() > 0.01
