"""The command line's conventions: fast start without torch, --version, examples in every --help, -q and
-v at any level, --threads on every compute command, `-` for stdin text and stdout WAV, one-line errors
without a display; and where shipped files and per-user folders are found."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import toolbox
from toolbox import cpu
from toolbox.cli import build_parser, main
from toolbox.commands.toolbox import display_problem

ROOT = Path(__file__).resolve().parents[1]
SHARED_VOICES = ROOT.parent / "shared" / "data" / "librispeech" / "test-other"
COMPUTE = [["clone"], ["embed"], ["vocode"], ["eval"], ["preprocess"], ["train", "phones"], ["train", "encoder"],
           ["bench", "vocoder"], ["bench", "encoder"]]


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every (sub)command parser below the top, with its command path."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _parsers(sub, (*path, name))


def test_help_and_version_do_not_import_the_numerical_stack():
    code = ("import sys\nfrom toolbox.cli import build_parser\nbuild_parser().format_help()\n"
            "print(','.join(m for m in ('torch', 'scipy', 'librosa', 'numpy', 'PySide6', 'matplotlib', 'numba') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""  # none of them
    proc = subprocess.run([sys.executable, "-m", "toolbox.cli", "--version"], env=_env(), capture_output=True,
                          text=True, timeout=120)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"sv2tts {toolbox.__version__}")


def test_every_subcommand_has_examples_and_takes_q_and_v_anywhere():
    parser = build_parser()
    seen = []
    for path, sub in _parsers(parser):
        seen.append(" ".join(path))
        if path[0] == "bench":  # a bench target's options load with its module, on use
            sub.parse_known_args(["--json"])
        assert sub.epilog and sub.epilog.startswith("examples:"), path
        assert f"sv2tts {path[0]}" in sub.epilog or "torchrun" in sub.epilog, path
        text = sub.format_help()
        assert "examples:\n  " in text and "-q, --quiet" in text, path
    assert {"clone", "models list", "bench cli", "train phones", "toolbox"} <= set(seen)
    common = ["clone", "--voice", "a.wav", "--text", "Hi.", "-o", "o.wav"]
    assert parser.parse_args(common).quiet is False
    assert parser.parse_args(["-q", *common]).quiet is True
    assert parser.parse_args([*common, "-q"]).quiet is True
    assert parser.parse_args(["models", "list", "-q", "-v"]).verbose is True


@pytest.mark.parametrize("command", COMPUTE, ids=" ".join)
def test_every_compute_command_takes_threads(command):
    parser = build_parser()
    required = {"clone": ["--voice", "a", "--text", "x", "-o", "o.wav"], "embed": ["a.wav", "-o", "e.npy"],
                "vocode": ["m.npy", "-o", "o.wav"], "eval": ["--voices", "v"], "preprocess": ["encoder", "d", "o"],
                "train": ["run", "--data", "d"], "bench": []}[command[0]]
    assert parser.parse_args([*command, *required, "--threads", "3"]).threads == 3


def test_default_threads_leave_busy_cores_alone():
    assert cpu.default_threads(cpus=2, load=3.5) == 1  # the machine is busy: one thread
    assert cpu.default_threads(cpus=2, load=0.2) == 2
    assert cpu.default_threads(cpus=8, load=2.6) == 5
    assert cpu.default_threads(cpus=4, load=0.0) == 4
    assert 1 <= cpu.default_threads() <= cpu.available_cpus()
    assert cpu.thread_environment(3)["OMP_NUM_THREADS"] == "3"
    with pytest.raises(ValueError, match="at least 1"):
        cpu.thread_environment(0)


def test_threads_apply_during_the_command_only(monkeypatch):
    import torch

    seen = {}

    def fake_run(args):
        seen.update(omp=os.environ.get("OMP_NUM_THREADS"), torch=torch.get_num_threads(), quiet=args.quiet,
                    tqdm=os.environ.get("TQDM_DISABLE"))
        return 0

    monkeypatch.setattr("toolbox.commands.vocode.run", fake_run)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    target = 2 if before != 2 else 3
    assert main(["-q", "vocode", "mel.npy", "-o", "out.wav", "--threads", str(target)]) == 0
    assert seen == {"omp": str(target), "torch": target, "quiet": True, "tqdm": "1"}
    assert torch.get_num_threads() == before and "OMP_NUM_THREADS" not in os.environ
    assert "TQDM_DISABLE" not in os.environ
    with pytest.raises(SystemExit) as exit_info:
        main(["vocode", "mel.npy", "-o", "out.wav", "--threads", "0"])
    assert exit_info.value.code == 2


def _voice(tmp_path: Path) -> Path:
    """A LibriSpeech test-other clip when ../shared is there, else a generated voiced signal."""
    clips = sorted(SHARED_VOICES.rglob("*.flac")) if SHARED_VOICES.is_dir() else []
    if clips:
        return clips[0]
    t = np.arange(3 * 16000) / 16000
    phase = 2 * np.pi * np.cumsum(120 + 30 * np.sin(2 * np.pi * 0.5 * t)) / 16000
    wav = sum(np.sin(k * phase) / k for k in range(1, 25)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2
    path = tmp_path / "voice.wav"
    sf.write(path, (0.3 * wav / np.abs(wav).max()).astype(np.float32), 16000)
    return path


@pytest.mark.slow
def test_stdin_text_to_stdout_wav_equals_the_file_output(tmp_path, one_torch_thread):
    voice = _voice(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "toolbox.cli", "clone", "--voice", str(voice), "--text-file", "-",
                           "-o", "-", "--seed", "3", "--vocoder", "griffinlim", "--threads", "1"],
                          input=b"Hello.\n", env=_env(), capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert "wrote standard output" in proc.stderr.decode()
    piped, sr = sf.read(io.BytesIO(proc.stdout), dtype="int16")
    assert sf.info(io.BytesIO(proc.stdout)).subtype == "PCM_16" and sr == 16_000
    assert len(piped) > 4000 and np.abs(piped).max() > 100  # about a word of audible speech
    out = tmp_path / "hello.wav"
    assert main(["-q", "clone", "--voice", str(voice), "--text", "Hello.", "-o", str(out), "--seed", "3",
                 "--vocoder", "griffinlim", "--threads", "1"]) == 0
    from_file, _ = sf.read(out, dtype="int16")
    assert np.array_equal(piped, from_file)  # same audio through the pipe as into a file


def test_stdin_text_that_is_not_utf8_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "toolbox.cli", "clone", "--voice", str(tmp_path / "v.wav"),
                           "--text-file", "-", "-o", str(tmp_path / "o.wav")], input=b"caf\xe9\n", env=_env(),
                          capture_output=True, timeout=300)
    err = proc.stderr.decode().strip()
    assert proc.returncode == 1 and err.count("\n") == 0, err
    assert "standard input: not UTF-8 text" in err and not list(tmp_path.iterdir())


def test_no_display_is_one_line_before_qt_starts(tmp_path):
    assert display_problem("linux", {}) is not None
    assert display_problem("linux", {"DISPLAY": ":0"}) is None
    assert display_problem("linux", {"WAYLAND_DISPLAY": "wayland-0"}) is None
    assert display_problem("linux", {"QT_QPA_PLATFORM": "offscreen"}) is None
    assert display_problem("linux", {"QT_QPA_PLATFORM": "xcb"}) is not None
    assert display_problem("darwin", {}) is None and display_problem("win32", {}) is None
    env = {k: v for k, v in _env().items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "toolbox"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("sv2tts toolbox: error: no display") and proc.stderr.count("\n") == 1
    assert "xvfb-run" in proc.stderr and "Traceback" not in proc.stderr


def test_shipped_files_are_found_in_a_checkout_and_in_an_installed_package(tmp_path, monkeypatch):
    from models.resources import shipped_dir
    from models.store import DEFAULT_MANIFEST

    assert shipped_dir("models", "pretrained") == ROOT / "pretrained"  # this checkout
    assert DEFAULT_MANIFEST == ROOT / "pretrained" / "manifest.json"
    installed = tmp_path / "site" / "fakepkg"  # the wheel's layout: the folder inside the package
    (installed / "pretrained").mkdir(parents=True)
    (installed / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert shipped_dir("fakepkg", "pretrained") == installed / "pretrained"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders are Linux's")
def test_one_user_folder_name_and_the_old_model_cache_moved(tmp_path, monkeypatch):
    from models import userdirs
    from models.store import ModelStore

    for var, sub in (("XDG_CACHE_HOME", "cache"), ("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.delenv("SV2TTS_MODELS_DIR", raising=False)
    old = tmp_path / "cache" / userdirs.LEGACY_CACHE_NAME / "models"
    old.mkdir(parents=True)
    (old / "vocoder.pt").write_bytes(b"weights")
    assert ModelStore().cache_dir == tmp_path / "cache" / "sv2tts" / "models"
    assert (tmp_path / "cache" / "sv2tts" / "models" / "vocoder.pt").read_bytes() == b"weights"
    assert not old.exists()
    assert userdirs.data_dir() == tmp_path / "data" / "sv2tts"
    assert userdirs.log_dir() == tmp_path / "state" / "sv2tts" / "log"


def test_bench_cli_reports_medians_and_torch_apart(capsys):
    import json

    assert main(["bench", "cli", "--repeats", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for name in ("help", "version", "import_torch", "python"):
        assert 0 < report[f"{name}_median_s"] == report[f"{name}_min_s"]
    assert report["help_loads_torch_scipy_or_librosa"] is False
    assert report["import_torch_median_s"] > report["python_median_s"]


@pytest.mark.parametrize("flag,value", [("--voice-match", "1.5"), ("--voice-match", "x"), ("--speed", "9"),
                                        ("--pitch-shift", "-13")])
def test_out_of_range_controls_are_usage_errors(flag, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["clone", "--voice", "v.wav", "--text", "Hi.", "-o", "o.wav", flag, value])
    assert exit_info.value.code == 2
    assert flag in capsys.readouterr().err
