"""Synthesizer and vocoder training through the real CLI on tiny data: loss decreases, attention
plots, exact resume, 2-process torchrun."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from models.audio import synth_mel
from models.training.vocoder import encode_mu_law
from tests.conftest import run_torchrun
from toolbox.cli import main

TEXTS = ["a cat sat.", "the dog ran far.", "we see two birds.", "hello there.", "one more time.", "go now."]


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory):
    """6 utterances: harmonic tones whose pitch follows the text length, with random embeddings."""
    root = tmp_path_factory.mktemp("synth_data")
    for d in ("audio", "mels", "embeds"):
        (root / d).mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i, text in enumerate(TEXTS):
        n = 16_000 * (1 + i % 2) // 2 + 4000
        t = np.arange(n) / 16_000
        wav = sum(np.sin(2 * np.pi * (120 + 20 * len(text)) * k * t) / k for k in (1, 2, 3)) * 0.3
        wav = (wav * np.hanning(n)).astype(np.float32)
        mel = synth_mel(wav).T  # (T, 80)
        embed = rng.standard_normal(256).astype(np.float32)
        np.save(root / "audio" / f"a{i}.npy", wav)
        np.save(root / "mels" / f"m{i}.npy", mel)
        np.save(root / "embeds" / f"e{i}.npy", embed / np.linalg.norm(embed))
        rows.append(f"a{i}.npy|m{i}.npy|e{i}.npy|{n}|{mel.shape[0]}|{text}")
    (root / "train.txt").write_text("\n".join(rows) + "\n")
    return root


def tiny_config(tmp_path, model: dict, train: dict) -> str:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"model": model, "train": train}))
    return str(path)


TACO = {"embed_dims": 32, "encoder_dims": 32, "decoder_dims": 32, "postnet_dims": 32, "encoder_K": 2,
        "postnet_K": 2, "lstm_dims": 64, "num_highways": 1}
WAVERNN = {"rnn_dims": 32, "fc_dims": 32, "compute_dims": 16, "res_out_dims": 16, "res_blocks": 1}


def synth_cfg(tmp_path, **over):
    train = {"schedule": [[2, 3e-3, 1000, 4]], "save_every": 1000, "log_every": 1, "plot_every": 10, **over}
    return tiny_config(tmp_path, TACO, train)


def vocoder_cfg(tmp_path):
    return tiny_config(tmp_path, WAVERNN, {"batch_size": 4, "learning_rate": 1e-2, "seq_hops": 2,
                                           "save_every": 1000, "log_every": 1})


def losses(run):
    return [json.loads(x)["loss"] for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_mu_law_labels_cover_the_range():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    labels = encode_mu_law(x, 9)
    assert labels[0] == 0 and labels[-1] == 511 and labels[2] == 256
    assert np.all(np.diff(labels) > 0)


def test_synthesizer_training_learns_and_plots(tmp_path, synth_data):
    run = tmp_path / "syn"
    assert main(["train", "synthesizer", str(run), "--data", str(synth_data), "--config", synth_cfg(tmp_path),
                 "--steps", "20"]) == 0
    loss = losses(run)
    assert len(loss) == 20 and np.isfinite(loss).all()
    assert np.mean(loss[-4:]) < 0.8 * np.mean(loss[:4])
    assert (run / "plots" / "attention_0000010.png").stat().st_size > 1000
    metrics = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"mel_dec_mse", "mel_dec_l1", "mel_post_mse", "stop_bce", "r", "lr"} <= set(metrics)
    from models.synthesizer import Synthesizer
    synth = Synthesizer.from_file(run / "model.safetensors")
    assert synth.r == 2


def test_synthesizer_resume_is_exact(tmp_path, synth_data):
    cfg = synth_cfg(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["train", "synthesizer", str(a), "--data", str(synth_data), "--config", cfg, "--steps", "4"]) == 0
    assert main(["train", "synthesizer", str(b), "--data", str(synth_data), "--config", cfg, "--steps", "2"]) == 0
    assert main(["train", "synthesizer", str(b), "--data", str(synth_data), "--resume", "--steps", "4"]) == 0
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name
    assert losses(a) == losses(b)


def test_vocoder_training_learns_and_resumes_exactly(tmp_path, synth_data):
    cfg = vocoder_cfg(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["train", "vocoder", str(a), "--data", str(synth_data), "--config", cfg, "--steps", "30"]) == 0
    loss = losses(a)
    assert np.mean(loss[-5:]) < np.mean(loss[:5]) - 0.3  # nats
    assert main(["train", "vocoder", str(b), "--data", str(synth_data), "--config", cfg, "--steps", "15"]) == 0
    assert main(["train", "vocoder", str(b), "--data", str(synth_data), "--resume", "--steps", "30"]) == 0
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


@pytest.mark.parametrize("model", ["synthesizer", "vocoder"])
def test_torchrun_two_processes(tmp_path, synth_data, model):
    run = tmp_path / "ddp"
    cfg = synth_cfg(tmp_path) if model == "synthesizer" else vocoder_cfg(tmp_path)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "toolbox.cli", "train", model, str(run), "--data", str(synth_data), "--config", cfg, "--steps", "2"]
    proc = run_torchrun(cmd, run)
    assert proc.returncode == 0, proc.stderr[:3000] + " ... " + proc.stderr[-1500:]
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["world_size"] for m in metrics] == [2, 2]


def test_postnet_loss_covers_real_frames_only():
    from models.training.synthesizer import losses

    y = torch.full((2, 80, 10), -4.0)
    y[:, :, :6] = 1.0
    post = torch.zeros(2, 80, 10)
    post[:, :, :6] = 1.0  # perfect on the 6 real frames, masked to 0 on the padding (as the postnet does)
    batch = {"mels": y, "mel_lengths": torch.tensor([6, 6]), "stop_target": torch.zeros(2, 10)}
    parts = losses({"mel_dec": y, "mel_post": post, "stop_logits": torch.zeros(2, 10)}, batch)
    assert parts["mel_post_mse"].item() == 0.0 and parts["mel_dec_mse"].item() == 0.0
    post[:, :, 0] = 2.0  # one wrong real frame of 6
    assert losses({"mel_dec": y, "mel_post": post, "stop_logits": torch.zeros(2, 10)}, batch)[
        "mel_post_mse"].item() == pytest.approx(1 / 6)
