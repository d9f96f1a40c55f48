"""The duration-based demo synthesizer: phone front-end, model, data, training through the CLI,
loading by file kind and the model store's fallback to the bundled demo model."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from models.synthesizer.phone_model import SILENCE, PhoneSynth, PhoneSynthConfig, expand
from models.text.phones import PAD_PHONE_ID, PHONE_TO_ID, PHONES, normalize_phone, parse_psdur, to_frames
from tests.conftest import run_torchrun
from toolbox.cli import main

needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed")


def test_phone_names_from_flite_and_pocketsphinx_share_one_table():
    assert normalize_phone("ax") == "ah" and normalize_phone("AH0") == "ah"
    assert normalize_phone("SIL") == "pau" and normalize_phone("+NSN+") == "pau"
    assert normalize_phone("ZH") == "zh" and len(PHONES) == 40 and PAD_PHONE_ID == 40


def test_timings_become_frames_that_add_up():
    timings = parse_psdur("pau:0.1 pau:0.2 hh:0.26 ay:0.4 pau:0.5")
    ids, durations = to_frames(timings, 80.0)
    assert [PHONES[i] for i in ids] == ["pau", "hh", "ay", "pau"]  # the two leading pauses merge
    assert durations.tolist() == [16, 5, 11, 8] and durations.sum() == 40
    ids, durations = to_frames(timings, 80.0, n_frames=30)  # the audio is shorter: the tail is cut
    assert durations.sum() == 30 and [PHONES[i] for i in ids] == ["pau", "hh", "ay"]


@needs_flite
def test_flite_gives_phones_with_times():
    from models.text.phones import flite_phones

    timings = flite_phones("Hi.")
    assert [p for p, _, _ in timings] == ["pau", "hh", "ay", "pau"]
    assert all(end > start for _, start, end in timings)
    slower = flite_phones("Hi.", stretch=2.0)
    assert slower[-1][2] == pytest.approx(2 * timings[-1][2], rel=0.05)


def test_expand_matches_a_plain_loop():
    durations = torch.tensor([[2, 0, 3, 1], [4, 1, 0, 0]])
    index, features, mask = expand(durations)
    for b in range(2):
        frames = [(p, k, int(d)) for p, d in enumerate(durations[b].tolist()) for k in range(d)]
        assert mask[b, 0].sum() == len(frames)
        for t, (p, k, d) in enumerate(frames):
            assert index[b, t] == p
            assert features[b, 0, t].item() == pytest.approx((k + 0.5) / d)
            assert features[b, 1, t].item() == pytest.approx(np.log1p(d) / 4)


def test_batched_output_equals_each_item_alone():
    torch.manual_seed(0)
    net = PhoneSynth(PhoneSynthConfig(phone_dim=32, decoder_dim=32, encoder_layers=2, decoder_dilations=(1, 2, 4)))
    net.eval()
    a = (torch.tensor([3, 7, 9, 12, 0]), torch.tensor([5, 8, 3, 6, 10]))
    b = (torch.tensor([5, 20]), torch.tensor([7, 4]))
    speaker = torch.nn.functional.normalize(torch.randn(2, 256), dim=1)
    phones = torch.full((2, 5), PAD_PHONE_ID)
    durations = torch.zeros(2, 5, dtype=torch.long)
    for i, (p, d) in enumerate((a, b)):
        phones[i, :len(p)], durations[i, :len(d)] = p, d
    with torch.no_grad():
        both = net(phones, durations, speaker)["mel_post"]
        alone_b = net(b[0][None], b[1][None], speaker[1:])["mel_post"]
    assert both.shape == (2, 80, 32)
    torch.testing.assert_close(both[1, :, :11], alone_b[0], atol=1e-5, rtol=1e-5)
    assert torch.all(both[1, :, 11:] == SILENCE)  # padding is silence


def test_eval_films_equal_each_blocks_own_and_follow_new_weights():
    """In eval mode all FiLMs come from one product over stacked weights; they must equal the blocks' own
    Linear layers, in forward's order, also after the weights change in place (load_state_dict)."""
    torch.manual_seed(0)
    net = PhoneSynth(PhoneSynthConfig.tiny()).eval()
    speaker = torch.nn.functional.normalize(torch.randn(3, 256), dim=1)
    with torch.no_grad():
        for _ in range(2):
            fused, own = net.films(speaker), [b.film(speaker) for b in net.blocks()]
            assert len(fused) == len(own) == 1 + 2 + 1
            for f, o in zip(fused, own, strict=True):
                torch.testing.assert_close(f, o, atol=1e-6, rtol=1e-6)
            state = {k: v + 0.5 if ".film." in k else v for k, v in net.state_dict().items()}
            net.load_state_dict(state)


@pytest.fixture(scope="module")
def phone_data(tmp_path_factory, published_encoder_path):
    """A 2-speaker flite corpus (3 utterances each) made into phone data through the CLI."""
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed")
    root = tmp_path_factory.mktemp("phones")
    corpus, data = root / "corpus", root / "data"
    assert main(["corpus", str(corpus), "--speakers", "2", "--utterances", "3", "--engines", "flite"]) == 0
    assert main(["preprocess", "phones", str(corpus), str(data), "--encoder", str(published_encoder_path)]) == 0
    return data


def test_preprocess_phones_writes_consistent_items(phone_data):
    rows = [json.loads(x) for x in (phone_data / "metadata.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and {r["speaker"] for r in rows} == {"syn000", "syn001"}
    for r in rows:
        with np.load(phone_data / "items" / f"{r['id']}.npz") as z:
            assert z["mel"].shape == (80, r["frames"]) and z["durations"].sum() == r["frames"]
            assert z["phones"][0] == PHONE_TO_ID["pau"] and np.linalg.norm(z["embed"]) == pytest.approx(1, abs=1e-4)
    # resumable: a second run skips everything
    assert main(["preprocess", "phones", str(phone_data.parent / "corpus"), str(phone_data)]) == 0
    assert len((phone_data / "metadata.jsonl").read_text().splitlines()) == 6


def test_training_learns_resumes_exactly_and_loads(tmp_path, phone_data):
    from models.synthesizer import load_synthesizer
    from models.synthesizer.phone_synthesizer import PhoneSynthesizer

    run = tmp_path / "run"
    assert main(["train", "phones", str(run), "--data", str(phone_data), "--config", "tiny", "--steps", "30"]) == 0
    losses = [json.loads(x)["loss"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3])
    # exact resume: 20 + 10 steps equal 30 straight ones
    split = tmp_path / "split"
    assert main(["train", "phones", str(split), "--data", str(phone_data), "--config", "tiny", "--steps", "20"]) == 0
    assert main(["train", "phones", str(split), "--data", str(phone_data), "--resume", "--steps", "30"]) == 0
    from safetensors.torch import load_file

    straight, resumed = load_file(run / "model.safetensors"), load_file(split / "model.safetensors")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)

    synth = load_synthesizer(run / "model.safetensors")
    assert isinstance(synth, PhoneSynthesizer)
    embed = np.zeros(256, np.float32)
    embed[0] = 1
    mels = synth.synthesize(["Hello there.", "A longer sentence to say."], embed)
    for text, mel in zip(["Hello there.", "A longer sentence to say."], mels, strict=True):
        ids, durations = synth.phones(text)
        assert mel.shape == (80, durations.sum()) and np.all(np.abs(mel) <= 4)
    assert mels[1].shape[1] > mels[0].shape[1]


def test_a_run_can_start_from_trained_weights(tmp_path, phone_data):
    from safetensors.torch import load_file

    first = tmp_path / "first"
    assert main(["train", "phones", str(first), "--data", str(phone_data), "--config", "tiny", "--steps", "10"]) == 0
    weights = load_file(first / "model.safetensors")
    config = tmp_path / "finetune.json"
    config.write_text(json.dumps({"model": json.loads((first / "config.json").read_text())["model"],
                                  "train": {**json.loads((first / "config.json").read_text())["train"],
                                            "init_from": str(first / "model.safetensors"), "lr": 1e-12}}))
    tuned = tmp_path / "tuned"
    assert main(["train", "phones", str(tuned), "--data", str(phone_data), "--config", str(config),
                 "--steps", "2"]) == 0
    after = load_file(tuned / "model.safetensors")
    assert all(torch.allclose(weights[k], after[k], atol=1e-7) for k in weights)  # lr ~0: the weights it started from
    first_loss = json.loads((first / "metrics.jsonl").read_text().splitlines()[0])["loss"]
    tuned_loss = json.loads((tuned / "metrics.jsonl").read_text().splitlines()[0])["loss"]
    assert tuned_loss < 0.8 * first_loss

    other = tmp_path / "other.json"
    model = {**json.loads((first / "config.json").read_text())["model"], "decoder_dim": 24}
    other.write_text(json.dumps({"model": model, "train": {"init_from": str(first / "model.safetensors")}}))
    assert main(["train", "phones", str(tmp_path / "bad"), "--data", str(phone_data), "--config", str(other),
                 "--steps", "1"]) != 0


@needs_flite
def test_empty_and_unspeakable_text_is_refused():
    from models.synthesizer.phone_synthesizer import PhoneSynthesizer
    from models.text import TextError

    synth = PhoneSynthesizer(PhoneSynth(PhoneSynthConfig.tiny()))
    with pytest.raises(TextError):
        synth.synthesize("", np.ones(256, np.float32) / 16)
    with pytest.raises(TextError):
        synth.synthesize("?!", np.ones(256, np.float32) / 16)
    mel = synth.synthesize("Ça coûte 5 €.", np.ones(256, np.float32) / 16)[0]  # transliterated, expanded
    assert mel.shape[1] > 80


def test_the_store_falls_back_to_the_bundled_demo_model(tmp_path):
    from models.store import ModelStore
    from models.synthesizer.phone_synthesizer import PhoneSynthesizer

    weights = PhoneSynthesizer(PhoneSynth(PhoneSynthConfig.tiny())).save(tmp_path / "demo.safetensors")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"schema": 1, "models": [
        {"name": "synthesizer", "kind": "synthesizer", "filename": "synthesizer.pt", "format": "torch",
         "size": None, "sha256": None,
         "sources": [{"type": "huggingface", "repo_id": "x/y", "revision": "main", "filename": "synthesizer.pt"}]},
        {"name": "demo-synthesizer", "kind": "synthesizer", "filename": "demo.safetensors", "format": "safetensors",
         "size": weights.stat().st_size, "sha256": None, "path": "demo.safetensors"}]}))
    store = ModelStore(cache_dir=tmp_path / "cache", manifest=manifest)
    assert store.default("synthesizer") == weights
    (tmp_path / "cache").mkdir()
    published = tmp_path / "cache" / "synthesizer.pt"
    torch.save({"model_state": {}}, published)
    assert store.default("synthesizer") == published  # the published model wins when present


def test_torchrun_two_processes(tmp_path, phone_data):
    import sys

    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "toolbox.cli", "train", "phones", str(run), "--data", str(phone_data), "--config", "tiny",
           "--steps", "2"]
    proc = run_torchrun(cmd, run)
    assert proc.returncode == 0, proc.stderr[:3000] + " ... " + proc.stderr[-1500:]
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["world_size"] for m in metrics] == [2, 2]


def test_duration_training_learns_resumes_exactly_and_bundles(tmp_path, phone_data):
    from safetensors.torch import load_file

    from models.synthesizer.phone_synthesizer import PhoneSynthesizer, bundle

    run = tmp_path / "dur"
    assert main(["train", "durations", str(run), "--data", str(phone_data), "--config", "tiny", "--steps", "30"]) == 0
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3])
    assert metrics[-1]["mae_frames"] < metrics[0]["mae_frames"]
    split = tmp_path / "dur_split"
    assert main(["train", "durations", str(split), "--data", str(phone_data), "--config", "tiny", "--steps", "20"]) == 0
    assert main(["train", "durations", str(split), "--data", str(phone_data), "--resume", "--steps", "30"]) == 0
    straight, resumed = load_file(run / "model.safetensors"), load_file(split / "model.safetensors")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)

    acoustic = PhoneSynthesizer(PhoneSynth(PhoneSynthConfig.tiny())).save(tmp_path / "acoustic.safetensors")
    synth = PhoneSynthesizer.from_file(bundle(acoustic, run / "model.safetensors", tmp_path / "demo.safetensors"))
    assert synth.frontend == "python" and synth.durations is not None
    with np.load(sorted((phone_data / "items").glob("*.npz"))[0]) as z:
        embed, target = z["embed"], z["durations"]
    ids, frames = synth.phones("Jasmine and Martha eagerly delivered four crooked giraffes.", embed)
    assert len(ids) == len(frames) and frames.min() >= 1
    mean_speech = frames[1:-1].mean()  # the trained predictor says phones last about as long as flite's
    assert 0.5 * target[1:-1].mean() < mean_speech < 2 * target[1:-1].mean()
    synth.speed = 2.0
    assert synth.phones("Jasmine and Martha eagerly delivered four crooked giraffes.", embed)[1].sum() \
        == pytest.approx(frames.sum() / 2, abs=len(frames))


def test_predicted_durations_become_whole_frames():
    from models.synthesizer.phone_durations import EDGE_PAUSE_FRAMES, to_frames, word_positions

    pau, a = PHONE_TO_ID["pau"], PHONE_TO_ID["aa"]
    phones = np.array([pau, a, a, a, pau])
    log_d = np.log1p([50.0, 2.4, 2.4, 2.4, 50.0])
    frames = to_frames(log_d, phones)
    assert frames.tolist() == [EDGE_PAUSE_FRAMES, 2, 3, 2, EDGE_PAUSE_FRAMES]  # 7 frames for 7.2: no pile-up
    assert to_frames(log_d, phones, rate=0.5).tolist() == [32, 5, 5, 4, 32]
    assert to_frames(np.log1p([0.1, 0.2]), np.array([a, a])).tolist() == [1, 1]  # at least one frame
    assert word_positions(np.array([-1, 0, 0, 0, 1, -1, 2, 2])).tolist() == [0, 1, 2, 3, 4, 0, 1, 3]


def test_pitch_shift_moves_the_spectrum_by_semitones():
    from models.synthesizer.phone_synthesizer import _mel_centres, shift_pitch

    centres = _mel_centres(80)
    mel = np.full((80, 3), SILENCE, np.float32)
    mel[30] = 2.0
    assert shift_pitch(mel, 0.0) is mel
    up = shift_pitch(mel, 12.0)  # one octave: the peak moves to the band at twice the frequency
    peak = int(np.argmax(up[:, 0]))
    assert abs(centres[peak] / centres[30] - 2.0) < 0.1
    down = shift_pitch(mel, -12.0)
    assert abs(centres[int(np.argmax(down[:, 0]))] / centres[30] - 0.5) < 0.06
    assert np.all(up[:5] == SILENCE)  # below the lowest band, shifted up: silence


def test_python_frontend_refuses_unspeakable_text_without_flite(monkeypatch, tmp_path):
    from models.synthesizer.phone_durations import DurationConfig, DurationPredictor
    from models.synthesizer.phone_synthesizer import PhoneSynthesizer
    from models.text import TextError

    monkeypatch.setenv("PATH", str(tmp_path))
    synth = PhoneSynthesizer(PhoneSynth(PhoneSynthConfig.tiny()), durations=DurationPredictor(DurationConfig.tiny()))
    embed = np.ones(256, np.float32) / 16
    for text in ("", "?!"):
        with pytest.raises(TextError):
            synth.synthesize(text, embed)
    mels = synth.synthesize(["Ça coûte 5 €.", "Zorbo's XKCD."], embed)
    assert all(m.shape[0] == 80 and m.shape[1] > 2 * 16 for m in mels)


def test_clone_with_the_bundled_model_needs_no_flite(tmp_path, monkeypatch, librispeech):
    """flite hidden from PATH: the bundled demo synthesizer reads the text and times it in Python."""
    import soundfile as sf

    from models.synthesizer.phone_synthesizer import PhoneSynthesizer

    repo = Path(__file__).resolve().parents[1] / "pretrained"
    voice = sorted((librispeech / "test-other").rglob("*.flac"))[0]
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("flite") is None
    assert PhoneSynthesizer.from_file(repo / "demo-synthesizer.safetensors").frontend == "python"
    seconds, wavs = {}, {}
    for name, extra in (("normal", []), ("fast", ["--speed", "2"]), ("high", ["--pitch-shift", "4"]),
                        ("matched", ["--voice-match", "0.5"])):
        out = tmp_path / f"{name}.wav"
        assert main(["clone", "--voice", str(voice), "--text", "The quick brown fox jumps over the lazy dog.",
                     "-o", str(out), "--synthesizer", str(repo / "demo-synthesizer.safetensors"),
                     "--encoder", str(repo / "encoder.safetensors"), "--vocoder", "griffinlim", *extra]) == 0
        wav, sr = sf.read(str(out))
        assert sr == 16_000 and np.abs(wav).max() > 0.05
        seconds[name], wavs[name] = len(wav) / sr, wav
    assert 1.5 < seconds["normal"] < 5.0  # 11 words
    # voice match (off by default) changes the frames, not their timing
    assert len(wavs["matched"]) == len(wavs["normal"]) and not np.allclose(wavs["matched"], wavs["normal"])
    assert seconds["fast"] == pytest.approx(seconds["normal"] / 2, rel=0.15)
    assert seconds["high"] == pytest.approx(seconds["normal"], abs=0.02)


def test_phone_pitch_and_energy_are_means_over_each_phones_frames():
    from models.data.variance import phone_variance
    from models.synthesizer.phone_variance import PITCH_CENTRE, fill_unvoiced, normalise

    f0 = np.array([0, 0, 100, 100, 200, 0, 0, 150.0])
    mel = np.tile(np.arange(8, dtype=np.float32) - 4, (80, 1))
    pitch, energy = phone_variance(f0, mel, np.array([2, 3, 3]))
    assert np.isnan(pitch[0]) and pitch[1] == pytest.approx(np.log([100, 100, 200]).mean())
    assert pitch[2] == pytest.approx(np.log(150.0))
    assert energy.tolist() == pytest.approx([-3.5, -1.0, 2.0])
    assert fill_unvoiced(np.array([np.nan, 1.0, np.nan, 3.0, np.nan])).tolist() == [1, 1, 2, 3, 3]
    assert fill_unvoiced(np.array([np.nan, np.nan])).tolist() == [PITCH_CENTRE] * 2
    values = normalise(np.array([np.nan, PITCH_CENTRE]), np.array([0.0, 0.0]))
    assert values.shape == (2, 2) and values[0].tolist() == [0, 0] and values[1].tolist() == [1, 1]


def test_pitch_and_energy_preprocessing_training_and_synthesis(tmp_path, phone_data, capsys):
    """preprocess variance -> train variance -> an acoustic model with variance -> one bundled file that
    gives the predicted pitch and energy to the acoustic model."""
    from safetensors.torch import load_file

    from models.synthesizer.phone_synthesizer import PhoneSynthesizer, bundle
    from models.synthesizer.phone_variance import ENERGY_CENTRE, PITCH_CENTRE, PITCH_SCALE

    data = tmp_path / "data"
    shutil.copytree(phone_data, data)
    corpus = phone_data.parent / "corpus"
    # an acoustic model with pitch and energy refuses data without them, in one line
    config = tmp_path / "variance.json"
    config.write_text(json.dumps({"model": {**dataclasses.asdict(PhoneSynthConfig.tiny()), "variance": True},
                                  "train": {"batch_size": 4, "crop_frames": 120, "warmup_steps": 1, "lr": 3e-3}}))
    assert main(["train", "phones", str(tmp_path / "early"), "--data", str(data), "--config", str(config),
                 "--steps", "2"]) != 0
    err = capsys.readouterr().err
    assert "6 of 6 items have no pitch and energy" in err and "Traceback" not in err
    assert not (tmp_path / "early" / "model.safetensors").exists()  # refused before any step
    assert main(["preprocess", "variance", str(data), str(tmp_path / "elsewhere"), "--audio-root", str(corpus)]) != 0
    assert "same folder" in capsys.readouterr().err
    assert main(["preprocess", "variance", str(data), str(data)]) != 0
    assert "--audio-root" in capsys.readouterr().err
    assert main(["preprocess", "variance", str(data), str(data), "--audio-root", str(corpus)]) == 0
    speakers = {s["id"]: s["pitch"] for s in json.loads((corpus / "speakers.json").read_text())["speakers"]}
    for row in (json.loads(x) for x in (data / "metadata.jsonl").read_text().splitlines()):
        with np.load(data / "items" / f"{row['id']}.npz") as z:
            assert z["pitch"].shape == z["energy"].shape == z["phones"].shape
            voiced = np.exp(z["pitch"][np.isfinite(z["pitch"])])
            assert len(voiced) > len(z["phones"]) / 3
            assert 0.7 < np.median(voiced) / speakers[row["speaker"]] < 1.4  # flite's target mean pitch
            pau = z["phones"] == PHONE_TO_ID["pau"]
            assert z["energy"][pau].mean() < z["energy"][~pau].mean()
    # a second run has nothing left to do
    assert main(["preprocess", "variance", str(data), str(data), "--audio-root", str(corpus)]) == 0

    run = tmp_path / "var"
    assert main(["train", "variance", str(run), "--data", str(data), "--config", "tiny", "--steps", "30"]) == 0
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert np.mean([m["loss"] for m in metrics[-5:]]) < 0.5 * np.mean([m["loss"] for m in metrics[:3]])
    split = tmp_path / "var_split"
    assert main(["train", "variance", str(split), "--data", str(data), "--config", "tiny", "--steps", "20"]) == 0
    assert main(["train", "variance", str(split), "--data", str(data), "--resume", "--steps", "30"]) == 0
    straight, resumed = load_file(run / "model.safetensors"), load_file(split / "model.safetensors")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)

    acoustic = tmp_path / "acoustic"
    assert main(["train", "phones", str(acoustic), "--data", str(data), "--config", str(config), "--steps", "3"]) == 0
    durations = tmp_path / "dur"
    assert main(["train", "durations", str(durations), "--data", str(data), "--config", "tiny", "--steps", "3"]) == 0
    out = bundle(acoustic / "model.safetensors", durations / "model.safetensors", tmp_path / "demo.safetensors",
                 run / "model.safetensors")
    synth = PhoneSynthesizer.from_file(out)
    assert synth.uses_variance and synth.variance is not None
    with np.load(sorted((data / "items").glob("*.npz"))[0]) as z:
        embed = z["embed"]
    text = "Jasmine and Martha eagerly delivered four crooked giraffes."
    reading = synth.reading(text)
    (values,) = synth._variance([reading], embed[None])
    assert values.shape == (2, len(reading[0]))
    hz = np.exp(values[0] * PITCH_SCALE + PITCH_CENTRE)  # 30 steps of a tiny predictor: a speech-like range
    assert 50 < np.median(hz) < 400 and np.median(values[1]) + ENERGY_CENTRE < 0
    mel = synth.synthesize(text, embed)[0]
    with torch.no_grad():  # the values reach the model: a stronger projection changes the mel
        synth.model.variance.weight.mul_(3.0)
    assert not np.allclose(synth.synthesize(text, embed)[0], mel)
    synth.pitch_shift = 4.0  # a pitch shift still moves the spectrum
    assert not np.allclose(synth.synthesize(text, embed)[0], mel)


def test_half_size_files_keep_the_durations_exact_and_the_mels_close(tmp_path):
    from models.synthesizer.phone_durations import DurationConfig, DurationPredictor
    from models.synthesizer.phone_synthesizer import PhoneSynthesizer
    from models.synthesizer.phone_variance import VarianceConfig, VariancePredictor

    torch.manual_seed(0)
    synth = PhoneSynthesizer(PhoneSynth(dataclasses.replace(PhoneSynthConfig.tiny(), variance=True)),
                             durations=DurationPredictor(DurationConfig.tiny()),
                             variance=VariancePredictor(VarianceConfig.tiny()), precision="fp32")
    full, half = synth.save(tmp_path / "full.safetensors"), synth.save(tmp_path / "half.safetensors", float16=True)
    assert half.stat().st_size < 0.75 * full.stat().st_size
    a = PhoneSynthesizer.from_file(full, precision="fp32")
    b = PhoneSynthesizer.from_file(half, precision="fp32")
    assert all(p.dtype == torch.float32 for p in b.model.parameters())
    durations_a, durations_b = a.durations.state_dict(), b.durations.state_dict()
    assert all(torch.equal(durations_a[k], durations_b[k]) for k in durations_a)
    embed = np.ones(256, np.float32) / 16
    for x, y in zip(a.synthesize(["Hello there.", "A longer sentence."], embed),
                    b.synthesize(["Hello there.", "A longer sentence."], embed), strict=True):
        assert x.shape == y.shape and np.abs(x - y).max() < 0.01
