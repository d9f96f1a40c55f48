"""Bad inputs and faults through the real `sv2tts` command line, as a subprocess: every refusal is one
line on stderr (no traceback), a non-zero exit, and no new or changed file in the output folder.

Inputs are tiny and built here (a flite recording as the voice, the bundled models, damaged copies
of them), so nothing needs ../shared. Cases run a few subprocesses at a time: each pays the CLI's
start-up (torch import), not the test's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "pretrained"
LOG_LINE = re.compile(r"^(DEBUG|INFO|WARNING) [\w.]+: |^\w+: +\d+%\|")  # log records, progress bars
TEXT = "The quick brown fox jumps over the lazy dog."


# ----------------------------------------------------------------------------------------------- helpers
def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen", **extra}


def run_cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 900) -> tuple[int, str]:
    """Run `python -m toolbox.cli ARGS`; returns (exit code, stderr)."""
    proc = run_cli_bytes(args, env, timeout)
    return proc.returncode, proc.stderr.decode(errors="replace")


def run_cli_bytes(args: list[str], env: dict[str, str] | None = None, timeout: float = 900,
                  stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m toolbox.cli ARGS` with `stdin` piped in (else none); stdout and stderr as bytes."""
    return subprocess.run([sys.executable, "-m", "toolbox.cli", *args], capture_output=True,
                          input=stdin if stdin is not None else b"", env=cli_env(**(env or {})),
                          timeout=timeout, check=False)


def error_lines(stderr: str) -> list[str]:
    """stderr without log records (INFO/WARNING lines), progress bars and blank lines: what the user
    is told."""
    return [line for line in stderr.splitlines() if line.strip() and not LOG_LINE.match(line)]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below `folder` (hidden ones too) -> sha256 of its content."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_refused(rc: int, stderr: str, expect: list[str], code: int = 1) -> None:
    assert "Traceback" not in stderr, stderr
    lines = error_lines(stderr)
    assert rc == code, f"exit {rc} (expected {code}): {stderr}"
    assert len(lines) == 1, f"expected one line, got {lines}"
    for text in expect:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"


@pytest.fixture(scope="module")
def voice(tmp_path_factory) -> Path:
    """A 5 s reference recording spoken by flite (8 kHz WAV): clear speech, no ../shared needed."""
    if not shutil.which("flite"):
        pytest.skip("flite is not installed (apt install flite)")
    path = tmp_path_factory.mktemp("voice") / "voice.wav"
    subprocess.run(["flite", "-voice", "slt", "-t", TEXT + " She sells sea shells by the sea shore.",
                    "-o", str(path)], check=True, capture_output=True, timeout=60)
    return path


def damaged_copy(src: Path, dst: Path, change) -> Path:
    """A copy of our safetensors file `src` with change(state dict, config dict) applied."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
    state = load_file(str(src))
    config = json.loads(meta["config"])
    change(state, config)
    meta["config"] = json.dumps(config)
    save_file(state, str(dst), metadata=meta)
    return dst


class _RunsCode:
    marker = ""

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@dataclass
class Case:
    name: str
    args: list[str]
    expect: list[str]
    code: int = 1
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes | None = None  # piped to the command (`--text-file -`)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, voice) -> dict[str, Path]:
    """Inputs (good and broken) and an output folder holding files that must survive untouched."""
    import torch

    w = tmp_path_factory.mktemp("bad")
    inputs, out = w / "inputs", w / "out"
    inputs.mkdir()
    out.mkdir()
    shutil.copy(voice, inputs / "voice.wav")
    (out / "keep.wav").write_bytes(b"precious audio")
    (out / "keep.npy").write_bytes(b"precious embeddings")
    (inputs / "folder.wav").mkdir()  # a directory given as audio
    sf.write(str(inputs / "silent.wav"), np.zeros(16_000, np.float32), 16_000)
    mel = np.full((80, 6), -2.0, np.float32)
    np.save(inputs / "mel.npy", mel)
    mel[3, 2] = np.nan
    np.save(inputs / "nan_mel.npy", mel)
    (inputs / "random.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    marker = w / "code-ran"
    _RunsCode.marker = str(marker)
    (inputs / "evil.pt").write_bytes(pickle.dumps({"model_state": _RunsCode()}))

    def nan_weights(state, config):
        state["linear.weight"][0, 0] = float("nan")

    def noisy_weights(state, config):  # huge but finite noise: the outputs overflow
        state["linear.weight"] *= 1e20

    def noisy_mel(state, config):  # finite weights whose mel overflows
        state["to_mel.weight"] *= 1e20

    def noisy_audio(state, config):  # finite weights whose audio is NaN
        state["head.weight"] *= 1e38

    def fps0(state, config):
        config["frames_per_second"] = 0

    def huge(state, config):
        config["decoder_dim"] = 1_000_000

    damaged_copy(PRETRAINED / "encoder.safetensors", inputs / "nan-encoder.safetensors", nan_weights)
    damaged_copy(PRETRAINED / "encoder.safetensors", inputs / "noisy-encoder.safetensors", noisy_weights)
    damaged_copy(PRETRAINED / "demo-synthesizer.safetensors", inputs / "noisy-synthesizer.safetensors", noisy_mel)
    damaged_copy(PRETRAINED / "demo-vocoder.safetensors", inputs / "noisy-vocoder.safetensors", noisy_audio)
    damaged_copy(PRETRAINED / "demo-synthesizer.safetensors", inputs / "fps0.safetensors", fps0)
    damaged_copy(PRETRAINED / "demo-synthesizer.safetensors", inputs / "huge.safetensors", huge)
    # A corrupt published encoder in the model cache, of the exact expected size.
    cache = w / "cache"
    cache.mkdir()
    with open(cache / "encoder.pt", "wb") as f:
        f.truncate(17_090_379)
    cache2 = w / "cache2"  # a corrupt published vocoder: never silently replaced by Griffin-Lim
    cache2.mkdir()
    with open(cache2 / "vocoder.pt", "wb") as f:
        f.truncate(53_845_290)
    padded = w / "padded-vocoder.pt"  # a small real checkpoint zero-padded to the published vocoder's size
    torch.save({"model_state": {"w": torch.zeros(8)}}, padded)
    with open(padded, "r+b") as f:
        f.truncate(53_845_290)
    (w / "a-file").write_text("not a folder")
    (w / "tmp").mkdir()  # TMPDIR of every case: `-o -` writes its temporary file there
    torch.manual_seed(0)
    return {"w": w, "inputs": inputs, "out": out, "marker": marker, "cache": cache, "cache2": cache2,
            "padded": padded, "tmp": w / "tmp"}


def cases(ws: dict[str, Path]) -> list[Case]:
    i, o = ws["inputs"], ws["out"]
    voice = str(i / "voice.wav")
    clone = ["clone", "--voice", voice, "--text", TEXT, "--vocoder", "griffinlim"]
    return [
        Case("nan encoder weights", ["embed", voice, "-o", f"{o}/e.npy", "--encoder", f"{i}/nan-encoder.safetensors"],
             ["nan-encoder.safetensors", "NaN"]),
        Case("noisy encoder weights", ["embed", voice, "-o", f"{o}/e.npy", "--encoder",
                                       f"{i}/noisy-encoder.safetensors"], ["noisy-encoder.safetensors", "damaged"]),
        Case("corrupt cached published encoder", ["embed", voice, "-o", f"{o}/e.npy"],
             [f"{ws['cache']}/encoder.pt", "unusable"], env={"SV2TTS_MODELS_DIR": str(ws["cache"])}),
        Case("corrupt cached published vocoder", [*clone[:-2], "-o", f"{o}/c.wav"],
             [f"{ws['cache2']}/vocoder.pt", "unusable"], env={"SV2TTS_MODELS_DIR": str(ws["cache2"])}),
        Case("negative seed", [*clone, "-o", f"{o}/c.wav", "--seed", "-1"], ["--seed", "-1"], code=2),
        Case("config fps 0", [*clone, "-o", f"{o}/c.wav", "--synthesizer", f"{i}/fps0.safetensors"],
             ["fps0.safetensors", "frames_per_second"]),
        Case("config huge dimensions", [*clone, "-o", f"{o}/c.wav", "--synthesizer", f"{i}/huge.safetensors"],
             ["huge.safetensors", "layout"]),
        Case("random bytes as .pt", [*clone, "-o", f"{o}/c.wav", "--synthesizer", f"{i}/random.pt"],
             ["random.pt", "not a PyTorch checkpoint"]),
        Case("malicious pickle", [*clone, "-o", f"{o}/c.wav", "--synthesizer", f"{i}/evil.pt"],
             ["evil.pt", "would run code"]),
        # (no "flite missing" case: the demo synthesizer's Python text front-end needs no flite since a5e12df)
        Case("clone onto a directory", [*clone, "-o", str(o), "--force"], [str(o), "is a directory"]),
        Case("clone into a missing folder", [*clone, "-o", f"{o}/new/c.wav"], ["no such directory"]),
        Case("clone over a file", [*clone, "-o", f"{o}/keep.wav"], ["keep.wav", "--force"]),
        # Silence is named before any model loads: the unreadable model file is never reached.
        Case("silent reference", ["embed", f"{i}/silent.wav", "-o", f"{o}/e.npy", "--encoder", f"{i}/random.pt"],
             ["silent.wav", "silent"]),
        Case("silent reference to clone", ["clone", "--voice", f"{i}/silent.wav", "--text", TEXT, "-o", f"{o}/c.wav",
                                           "--encoder", f"{i}/random.pt", "--synthesizer", f"{i}/random.pt"],
             ["silent.wav", "silent"]),
        Case("missing model file", ["embed", voice, "-o", f"{o}/e.npy", "--encoder", f"{i}/missing.pt"],
             ["missing.pt", "not found"]),
        Case("directory as audio", ["embed", f"{i}/folder.wav", "-o", f"{o}/e.npy"],
             ["folder.wav", "is a directory"]),
        Case("embed over a file", ["embed", voice, "-o", f"{o}/keep.npy"], ["keep.npy", "--force"]),
        Case("embed into a missing folder", ["embed", voice, "-o", f"{o}/new/e.npy"], ["no such directory"]),
        Case("vocode to mp3", ["vocode", f"{i}/mel.npy", "-o", f"{o}/v.mp3", "--vocoder", "griffinlim"],
             ["v.mp3", ".wav or .flac"]),
        Case("vocode over a file", ["vocode", f"{i}/mel.npy", "-o", f"{o}/keep.wav", "--vocoder", "griffinlim"],
             ["keep.wav", "--force"]),
        Case("vocode into a missing folder", ["vocode", f"{i}/mel.npy", "-o", f"{o}/new/v.wav", "--vocoder",
                                              "griffinlim"], ["no such directory"]),
        Case("vocode a NaN mel to stdout", ["vocode", f"{i}/nan_mel.npy", "-o", "-", "--vocoder", "griffinlim"],
             ["nan_mel.npy", "NaN"]),
        # Damaged models met mid-run: named, nothing written (to stdout either), never NaN audio.
        Case("clone with a damaged encoder", [*clone, "-o", f"{o}/c.wav", "--encoder",
                                              f"{i}/noisy-encoder.safetensors"],
             ["noisy-encoder.safetensors", "damaged"]),
        Case("clone to stdout, damaged synthesizer", [*clone[:3], "--text-file", "-", *clone[5:], "-o", "-",
                                                      "--synthesizer", f"{i}/noisy-synthesizer.safetensors"],
             ["noisy-synthesizer.safetensors", "NaN", "mel"], stdin=TEXT.encode()),
        Case("clone with a damaged vocoder", [*clone[:-2], "-o", f"{o}/c.wav", "--vocoder",
                                              f"{i}/noisy-vocoder.safetensors"], ["noisy-vocoder.safetensors", "NaN"]),
        Case("import into an unwritable cache", ["models", "import", str(PRETRAINED / "encoder.safetensors"),
                                                 "--name", "bundled-encoder"],
             ["cannot write to the model cache"], env={"SV2TTS_MODELS_DIR": f"{ws['w']}/a-file/models"}),
        Case("import a zero-padded file of the vocoder's size", ["models", "import", str(ws["padded"])],
             ["padded-vocoder.pt", "not imported as the vocoder model"],
             env={"SV2TTS_MODELS_DIR": f"{ws['w']}/cache3"}),
    ]


def test_bad_inputs_are_one_line_and_leave_nothing_behind(workspace):
    out = workspace["out"]
    before = snapshot(out)
    inputs_before = snapshot(workspace["inputs"])
    todo = cases(workspace)
    tmp = {"TMPDIR": str(workspace["tmp"])}
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda c: run_cli_bytes(c.args, {**tmp, **c.env}, stdin=c.stdin), todo))
    failures = []
    for case, proc in zip(todo, results, strict=True):
        try:
            assert_refused(proc.returncode, proc.stderr.decode(errors="replace"), case.expect, case.code)
            assert proc.stdout == b"", f"{len(proc.stdout)} bytes on stdout"  # not even half a WAV
        except AssertionError as e:
            failures.append(f"{case.name}: {e}")
    assert not failures, "\n".join(failures)
    assert snapshot(out) == before  # no new, changed or temporary file
    assert snapshot(workspace["inputs"]) == inputs_before  # the originals are intact
    assert not workspace["marker"].exists()  # the malicious pickle never ran
    assert snapshot(workspace["tmp"]) == {}  # no temporary file of `-o -` left behind (torch makes a folder)
    assert not (workspace["w"] / "cache3").exists()  # nothing imported, not even a folder


def test_reference_and_text_advice(workspace, tmp_path):
    """Bad references embed with a warning naming the file; a non-Latin text is named before any
    model is loaded (here the synthesizer is unreadable, and the warning still comes first)."""
    wav, sr = sf.read(str(workspace["inputs"] / "voice.wav"), dtype="float32")
    refs = {"short.wav": wav[sr: sr + int(0.3 * sr)], "dc.wav": 0.5 * wav + 0.5,
            "clipped.wav": np.clip(20 * wav, -1, 1), "beyond.wav": 4 * wav}
    for name, x in refs.items():
        sf.write(str(tmp_path / name), x, sr, subtype="FLOAT")
    rc, err = run_cli(["embed", *[str(tmp_path / n) for n in refs], "-o", str(tmp_path / "e.npy")])
    assert rc == 0 and "Traceback" not in err, err
    warnings = [line for line in err.splitlines() if line.startswith("WARNING models.quality")]
    expect = {"short.wav": "of speech", "dc.wav": "DC offset", "clipped.wav": "clipped",
              "beyond.wav": "beyond full scale"}
    for name, text in expect.items():
        assert any(name in line and text in line for line in warnings), (name, warnings)
    assert np.load(tmp_path / "e.npy").shape == (4, 256)
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "e.npy").stat().st_mode & 0o777 == 0o666 & ~umask  # like any new file, not 0600

    rc, err = run_cli(["clone", "--voice", str(workspace["inputs"] / "voice.wav"), "--text", "Привет, мир. 你好.",
                       "-o", str(tmp_path / "c.wav"), "--synthesizer", str(workspace["inputs"] / "random.pt")])
    lines = err.splitlines()
    scripts = next(n for n, line in enumerate(lines) if "cannot speak: Cyrillic (9 letters), Cjk (2 letters)" in line)
    refused = next(n for n, line in enumerate(lines) if "random.pt" in line)
    assert rc == 1 and scripts < refused and not (tmp_path / "c.wav").exists()


# --------------------------------------------------------------------------------------- signals, disk
# `python -m toolbox.cli ARGS`, run by runpy as -m does, with Ctrl-C handled as in a terminal: a
# background job starts with SIGINT ignored, and Python keeps a SIGINT it inherited as ignored, so
# the tests would otherwise depend on how pytest was started. With a module name, it stops at the
# first import of that module, creates the marker file and waits there for the signal.
_CLI = """
import runpy, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
module, marker, *args = sys.argv[1:]
class StopAt:
    def find_spec(self, name, path=None, target=None):
        if name == module:
            sys.meta_path.remove(self)
            open(marker, "w").close()
            time.sleep(300)
        return None
if module:
    sys.meta_path.insert(0, StopAt())
sys.argv = ["toolbox.cli", *args]
runpy.run_module("toolbox.cli", run_name="__main__", alter_sys=True)
"""


def start_cli(args: list[str], env: dict[str, str] | None = None, stop_at: str = "",
              marker: Path | None = None) -> subprocess.Popen:
    """`python -m toolbox.cli ARGS` in the background (see _CLI); stdout and stderr are pipes (bytes)."""
    return subprocess.Popen([sys.executable, "-c", _CLI, stop_at, str(marker or ""), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(**(env or {})))


def signal_and_wait(proc: subprocess.Popen, sig: int, timeout: float = 60) -> tuple[bytes, str]:
    """Send `sig`; (stdout, stderr) once the process has ended (a failure naming what it said if not)."""
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"still running {timeout:.0f} s after signal {sig}: {error_lines(err.decode(errors='replace'))}")
    return out, err.decode(errors="replace")


def _start_clone(out: Path | str, voice: Path, sentences: int = 400,
                 env: dict[str, str] | None = None) -> subprocess.Popen:
    """A clone long enough (minutes of audio) that a signal sent mid-write always finds it still writing."""
    text = " ".join(f"Sentence number {n} is spoken here." for n in range(sentences))
    return start_cli(["clone", "--voice", str(voice), "--text", text, "-o", str(out), "--vocoder", "griffinlim",
                      "--seed", "1"], env)


def _wait_for_audio(folder: Path, proc: subprocess.Popen, min_bytes: int = 8_000, timeout: float = 240) -> Path:
    """The temporary file once audio is being written to it (the process is mid-write)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        parts = [p for p in folder.iterdir() if p.name.endswith(".part")]
        if parts and parts[0].stat().st_size >= min_bytes:
            return parts[0]
        if proc.poll() is not None:
            pytest.fail(f"clone ended before writing ({proc.returncode}): {proc.stderr.read().decode()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("clone did not start writing in time")


@pytest.mark.parametrize("sig, code, to_stdout", [(signal.SIGTERM, 143, False), (signal.SIGINT, 130, False),
                                                  (signal.SIGTERM, 143, True)],
                         ids=["SIGTERM", "SIGINT", "SIGTERM -o -"])
def test_signal_mid_write_leaves_nothing(tmp_path, voice, sig, code, to_stdout):
    """Signalled while audio is being written: one line, no .part, no partial file; with `-o -`
    (audio collected in a temporary file under TMPDIR) not a byte reaches stdout."""
    folder, tmp = tmp_path / "out", tmp_path / "tmp"
    folder.mkdir()
    tmp.mkdir()
    proc = _start_clone("-" if to_stdout else folder / "out.wav", voice, env={"TMPDIR": str(tmp)})
    _wait_for_audio(tmp if to_stdout else folder, proc)
    out, err = signal_and_wait(proc, sig)
    assert proc.returncode == code, err
    assert "Traceback" not in err and len(error_lines(err)) == 1, err
    assert out == b""
    assert snapshot(folder) == {} and snapshot(tmp) == {}  # no .part, no partial output


@pytest.mark.parametrize("module, command", [("argparse", "sv2tts"), ("toolbox.commands.clone", "sv2tts"),
                                             ("torch", "sv2tts clone")],
                         ids=["cli modules", "parser", "torch"])
def test_ctrl_c_during_start_up_imports(tmp_path, voice, module, command):
    """SIGINT while the command line's own modules load (before main runs), while the parser is built,
    and while torch loads (the output's temporary file already exists): one line, exit 130."""
    folder = tmp_path / "out"
    folder.mkdir()
    marker = tmp_path / "importing"
    proc = start_cli(["clone", "--voice", str(voice), "--text", TEXT, "-o", str(folder / "c.wav"), "--vocoder",
                      "griffinlim"], stop_at=module, marker=marker)
    end = time.monotonic() + 240
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            pytest.fail(f"never imported {module}: {proc.communicate()[1].decode()}")
        time.sleep(0.02)
    out, err = signal_and_wait(proc, signal.SIGINT)
    assert (proc.returncode, err, out) == (130, f"{command}: interrupted\n", b"")
    assert snapshot(folder) == {}


@contextlib.contextmanager
def _tmpfs(folder: Path, options: str, refusal: str):
    """Mount a tmpfs with `options` on `folder` for the block (needs root and a kernel that allows it;
    else the test is skipped with `refusal` and the reason)."""
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"{refusal} ({proc.stderr.strip() or proc.returncode})")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MB tmpfs (mounting needs root and a kernel that allows it; else skip)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    with _tmpfs(mnt, "size=8m", "cannot mount a tmpfs here"):
        yield mnt


def test_full_disk(small_disk, voice, workspace):
    """Too little room is refused before any work (a 20,000-character text); a disk that fills up
    mid-write gives one line; on the full disk embed and vocode are refused too; nothing is left on it."""
    long_text = "word " * 4000  # needs far more than 8 MB by the estimate
    rc, err = run_cli(["clone", "--voice", str(voice), "--text", long_text, "-o", str(small_disk / "a.wav"),
                       "--vocoder", "griffinlim"])
    assert_refused(rc, err, ["a.wav", "not enough free space"])
    assert list(small_disk.iterdir()) == []

    proc = _start_clone(small_disk / "b.wav", voice, sentences=12)
    _wait_for_audio(small_disk, proc, min_bytes=1_000)
    with open(small_disk / "filler", "wb") as f:  # another program fills the disk
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    _, err = proc.communicate(timeout=240)
    assert_refused(proc.returncode, err.decode(errors="replace"), ["b.wav", "disk is full"])
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]

    inputs = workspace["inputs"]
    todo = {"e.npy": ["embed", str(voice), "-o", str(small_disk / "e.npy")],
            "v.wav": ["vocode", str(inputs / "mel.npy"), "-o", str(small_disk / "v.wav"), "--vocoder", "griffinlim"]}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(todo, pool.map(run_cli, todo.values()), strict=True))
    for name, (rc, err) in results.items():
        assert_refused(rc, err, [name, "not enough free space"])
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]  # no 0-byte .part either


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody can write in: without write permission (as a user), or a read-only tmpfs (as
    root, whom permissions do not stop; skip if mounting is not allowed)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    with _tmpfs(folder, "size=64m,ro", "root, and cannot mount a read-only tmpfs here"):
        yield folder


def test_read_only_output_folder(read_only_folder, voice, workspace):
    """Every writer is refused before any work: the unreadable model each is given is never reached."""
    ro, inputs = read_only_folder, workspace["inputs"]
    bad_model = str(inputs / "random.pt")
    todo = [
        (["clone", "--voice", str(voice), "--text", TEXT, "-o", str(ro / "c.wav"), "--synthesizer", bad_model],
         ["c.wav", "cannot write"]),
        (["embed", str(voice), "-o", str(ro / "e.npy"), "--encoder", bad_model], ["e.npy", "cannot write"]),
        (["vocode", str(inputs / "mel.npy"), "-o", str(ro / "v.wav"), "--vocoder", bad_model],
         ["v.wav", "cannot write"]),
        (["models", "import", str(PRETRAINED / "encoder.safetensors"), "--name", "bundled-encoder"],
         ["cannot write to the model cache"]),
    ]
    env = {"SV2TTS_MODELS_DIR": str(ro / "models")}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda case: run_cli(case[0], env), todo))
    for (_, expect), (rc, err) in zip(todo, results, strict=True):
        assert_refused(rc, err, expect)
    assert list(ro.iterdir()) == []


# ------------------------------------------------------------------------------------------ model store
def test_store_rehashes_and_checks_whole_containers(tmp_path):
    """A zero-padded file of the expected size is refused at import; a file changed in place after its
    import (same size and mtime) is caught by `verify --rehash`; the manifest's hash is always rechecked."""
    import torch

    from models.store import ModelStore

    torch.save({"model_state": {"w": torch.arange(50_000, dtype=torch.float32)}}, tmp_path / "real.pt")
    real = (tmp_path / "real.pt").read_bytes()
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"schema": 1, "models": [
        {"name": "vocoder", "kind": "vocoder", "filename": "vocoder.pt", "format": "torch", "size": len(real),
         "sha256": None, "sources": [{"type": "huggingface", "repo_id": "x/y", "filename": "vocoder.pt"}]},
        {"name": "bundled", "kind": "encoder", "filename": "b.pt", "format": "torch", "size": len(real),
         "sha256": hashlib.sha256(real).hexdigest(), "path": "real.pt"}]}))
    padded = tmp_path / "padded.pt"
    padded.write_bytes(real[: len(real) // 2] + bytes(len(real) - len(real) // 2))
    store = ModelStore(cache_dir=tmp_path / "cache", manifest=manifest)
    with pytest.raises(Exception, match="padded.pt: not imported as the vocoder model: .*(zip|CRC)"):
        store.import_file(padded, name="vocoder")
    assert not (tmp_path / "cache" / "vocoder.pt").exists()

    target = store.import_file(tmp_path / "real.pt", name="vocoder")
    assert [r.status for r in store.verify("vocoder", rehash=True)] == ["ok"]
    st = target.stat()
    damaged = bytearray(target.read_bytes())
    damaged[-100] ^= 0xFF  # flip a byte in place, then restore the mtime
    target.write_bytes(bytes(damaged))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    (result,) = store.verify("vocoder", rehash=True)
    assert result.status == "bad" and "changed since it was imported" in result.detail
    target.write_bytes(real[:-10])  # truncated in the cache: reported when used, never skipped
    with pytest.raises(Exception, match="vocoder.pt is unusable .*truncated"):
        store.installed("vocoder")

    src = tmp_path / "real.pt"  # the manifest's hash is recomputed even when size and mtime agree
    assert store.verify("bundled")[0].status == "ok"
    st = src.stat()
    src.write_bytes(bytes(damaged))
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    (result,) = store.verify("bundled")
    assert result.status == "bad" and "sha256 mismatch" in result.detail


# ---------------------------------------------------------------------------------------------- vocoder
def test_published_unfold_is_the_reference_envelope_arithmetic():
    """xfade_and_unfold of the reference, written out: each fold's first `overlap` samples times
    [zeros(h), fade_in], its last `overlap` times [fade_out, zeros(h)], folds added at stride
    target + overlap. The published plan's overlap-add (and the fast generator's streamed output,
    fed the same classes) equal it; the streaming plan keeps a true cross-fade without the dip."""
    import torch

    from models.vocoder import VocoderConfig, WaveRNN
    from models.vocoder.fast import FastWaveRNN
    from models.vocoder.folding import overlap_add, streaming_plan, uniform_plan
    from models.vocoder.naive import conditioning

    target, overlap = 1000, 200
    plan = uniform_plan(4 * (target + overlap) + overlap, target, overlap)
    assert plan.num_folds == 4 and plan.envelope == "reference"
    rng = np.random.default_rng(3)
    folds = rng.uniform(-1, 1, (plan.num_folds, target + 2 * overlap))

    h = overlap // 2
    t = np.linspace(-1, 1, overlap - h)
    fade_in = np.concatenate([np.zeros(h), np.sqrt(0.5 * (1 + t))])
    fade_out = np.concatenate([np.sqrt(0.5 * (1 - t)), np.zeros(h)])
    y = folds.copy()
    y[:, :overlap] *= fade_in
    y[:, -overlap:] *= fade_out
    expected = np.zeros(plan.num_folds * (target + overlap) + overlap)
    for i in range(plan.num_folds):
        start = i * (target + overlap)
        expected[start:start + target + 2 * overlap] += y[i]
    np.testing.assert_array_equal(overlap_add(list(folds), plan), expected)

    ones = overlap_add([np.ones(target + 2 * overlap)] * plan.num_folds, plan)
    join = target + overlap  # the second fold starts here; the first fold's tail ends at join + overlap
    assert ones[join + h - 1] == 0.0 and ones[join + h] == 0.0  # each half belongs to one fold: a dip to 0
    np.testing.assert_allclose(ones[join:join + h], np.sqrt(0.5 * (1 - t)))

    stream = streaming_plan(30_000, target=2000, overlap=400, first_target=400)
    flat = overlap_add([np.ones(n) for n in stream.lengths], stream)
    assert stream.envelope == "crossfade" and flat[400:29_000].min() >= 1.0 - 1e-12  # no dip

    torch.manual_seed(0)
    net = WaveRNN(VocoderConfig.small()).eval()
    cond = conditioning(net, np.full((80, 30), -2.0, np.float32))
    plan = uniform_plan(cond.shape[0], 1000, 200)
    labels = torch.randint(0, net.config.n_classes, (plan.num_folds, max(plan.lengths)),
                           generator=torch.Generator().manual_seed(1))
    fast = FastWaveRNN(net, step_impl="torch")  # the fused kernels give the same sums; no compile here
    streamed = np.concatenate([v for _, v in fast.run(cond, plan, forced=labels, block=64)])
    values = 2.0 * labels.numpy().astype(np.float64) / (net.config.n_classes - 1) - 1.0
    y = values.copy()
    y[:, :200] *= np.concatenate([np.zeros(100), np.sqrt(0.5 * (1 + np.linspace(-1, 1, 100)))])
    y[:, -200:] *= np.concatenate([np.sqrt(0.5 * (1 - np.linspace(-1, 1, 100))), np.zeros(100)])
    reference = np.zeros(plan.padded_total)
    for i, o in enumerate(plan.offsets):
        reference[o:o + plan.lengths[i]] += y[i]
    np.testing.assert_allclose(streamed[: len(reference)], reference, atol=1e-12)


# -------------------------------------------------------------------------------------------------- GUI
def _corrupt_profiles(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.npz").write_bytes(b"")
    np.savez(folder / "good.npz", embedding=np.full(256, 1 / 16, np.float32), speaker=np.array("a"),
             source=np.array("x"))
    (folder / "truncated.npz").write_bytes((folder / "good.npz").read_bytes()[:300])
    np.savez(folder / "nan.npz", embedding=np.full(256, np.nan, np.float32))
    np.savez(folder / "zero.npz", embedding=np.zeros(256, np.float32))
    (folder / "good.npz").unlink()
    return ["empty", "truncated", "nan", "zero"]


def test_toolbox_starts_with_unwritable_state_and_damaged_files(tmp_path):
    """The real entry point, offscreen: the log directory cannot be created (a file is in the way),
    the settings file is garbage and the voice profiles are damaged; the window still opens and
    closes, and says where the log goes."""
    (tmp_path / "state").write_text("a file where the state directory should be")
    config = tmp_path / "config" / "sv2tts"
    config.mkdir(parents=True)
    (config / "toolbox.conf").write_bytes(b"[General]\ngeometry=@ByteArray(\\x00\\xff garbage\nlast_dir=\x00\x01\n")
    _corrupt_profiles(tmp_path / "data" / "sv2tts" / "voices")
    rc, err = run_cli(["toolbox", "--demo", "--exit-after", "1"],
                      env={"XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
                           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert rc == 0 and "Traceback" not in err, err
    assert "logging to stderr" in err


def test_damaged_voice_profiles_are_reported_not_raised(qtbot, tmp_path):
    from toolbox.gui.testing import make_window

    names = _corrupt_profiles(tmp_path / "voices")
    window, executor = make_window(tmp_dir=tmp_path)
    qtbot.addWidget(window)
    try:
        assert sorted(window.outputs.profiles.names()) == sorted(names)
        for name in names:
            window._use_profile(name)
        for name in names:
            assert any(f"{name}.npz" in e for e in window.status.errors), (name, window.status.errors)
        assert window.voice is None  # none of them became the voice
    finally:
        window.shutdown()
        executor.shutdown(wait=True)
