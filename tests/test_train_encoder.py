"""GE2E encoder training through the real CLI: loss decreases, exact resume, 2-process torchrun."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from models.training.ge2e import ge2e_loss, similarity_matrix
from tests.conftest import run_torchrun
from toolbox.cli import main


@pytest.fixture(scope="module")
def mel_data(tmp_path_factory):
    """6 fake speakers x 6 utterances of power mels, each speaker with its own spectral envelope."""
    root = tmp_path_factory.mktemp("encoder_data")
    rng = np.random.default_rng(0)
    for s in range(6):
        envelope = np.exp(rng.normal(0, 1.5, 40))
        (root / f"spk{s}").mkdir()
        for u in range(6):
            frames = int(rng.integers(170, 260))
            mel = envelope * np.exp(rng.normal(0, 0.7, (frames, 40)))
            np.save(root / f"spk{s}" / f"u{u}.npy", mel.astype(np.float32))
    return root


def small_config(tmp_path, **train):
    cfg = {"model": {"hidden_size": 32, "num_layers": 1, "embedding_size": 32},
           "train": {"speakers_per_batch": 4, "utterances_per_speaker": 4, "learning_rate": 0.01,
                     "save_every": 1000, "log_every": 1, **train}}
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def test_exclusive_centroids_and_loss_values():
    torch.manual_seed(0)
    e = torch.nn.functional.normalize(torch.randn(3, 4, 8), dim=2)
    sim = similarity_matrix(e)
    for j in range(3):
        for i in range(4):
            others = torch.cat([e[j, :i], e[j, i + 1:]]).mean(0)
            assert torch.allclose(sim[j, i, j], e[j, i] @ (others / (others.norm() + 1e-5)), atol=1e-6)
            for k in range(3):
                if k != j:
                    c = e[k].mean(0)
                    assert torch.allclose(sim[j, i, k], e[j, i] @ (c / (c.norm() + 1e-5)), atol=1e-6)
    w, b = torch.tensor([10.0]), torch.tensor([-5.0])
    loss, _ = ge2e_loss(e, w, b)
    logits = (sim * 10 - 5).reshape(12, 3)
    expected = -torch.log_softmax(logits, 1)[torch.arange(12), torch.arange(3).repeat_interleave(4)].mean()
    assert torch.allclose(loss, expected)


def test_training_decreases_loss(tmp_path, mel_data, capsys):
    run = tmp_path / "run"
    assert main(["train", "encoder", str(run), "--data", str(mel_data), "--config", small_config(tmp_path),
                 "--steps", "30"]) == 0
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics]
    assert len(losses) == 30 and np.isfinite(losses).all()
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    weights = load_file(run / "model.safetensors")
    assert weights["linear.weight"].shape == (32, 32)
    assert json.loads((run / "config.json").read_text())["kind"] == "encoder"
    from models.encoder import SpeakerEncoder
    assert SpeakerEncoder.from_file(run / "model.safetensors").config.hidden_size == 32


def test_resume_is_exact(tmp_path, mel_data):
    cfg = small_config(tmp_path)
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", "encoder", str(straight), "--data", str(mel_data), "--config", cfg, "--steps", "6"]) == 0
    assert main(["train", "encoder", str(split), "--data", str(mel_data), "--config", cfg, "--steps", "3"]) == 0
    assert main(["train", "encoder", str(split), "--data", str(mel_data), "--steps", "6"]) == 1  # no --resume
    assert main(["train", "encoder", str(split), "--data", str(mel_data), "--resume", "--steps", "6"]) == 0
    a, b = load_file(straight / "model.safetensors"), load_file(split / "model.safetensors")
    for name in a:
        assert torch.equal(a[name], b[name]), name
    la = [json.loads(x)["loss"] for x in (straight / "metrics.jsonl").read_text().splitlines()]
    lb = [json.loads(x)["loss"] for x in (split / "metrics.jsonl").read_text().splitlines()]
    assert la == lb


def test_torchrun_two_processes(tmp_path, mel_data):
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "toolbox.cli", "train", "encoder", str(run), "--data", str(mel_data),
           "--config", small_config(tmp_path), "--steps", "3"]
    proc = run_torchrun(cmd, run, env)
    assert proc.returncode == 0, proc.stderr[:3000] + " ... " + proc.stderr[-1500:]
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["world_size"] for m in metrics] == [2, 2, 2]
    assert load_file(run / "model.safetensors")["linear.weight"].shape == (32, 32)
