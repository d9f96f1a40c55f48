"""Safe reading of model weights: published PyTorch checkpoints and the project's safetensors format.

* Foreign ``.pt`` files are only ever read with ``torch.load(weights_only=True)``: a file that would
  need to run code to unpickle is refused, never executed.
* Before loading, a file is sniffed so that an HTML page saved as ``.pt`` (a failed download), an
  empty or truncated file, or a wrong size gets a one-line message that says exactly that.
* Our own weights are ``.safetensors`` with the model kind, format version and the config dataclass
  (as JSON) in the header metadata, so weights always find their architecture.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import pickle
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

FORMAT_NAME = "sv2tts-toolbox"
FORMAT_VERSION = "1"


class CheckpointError(ValueError):
    """A weights file that cannot be used, with a one-line message meant for the user."""


def sniff(path: Path) -> str:
    """Guess a weights file's container from its first bytes.

    Returns one of "torch-zip", "torch-legacy", "safetensors", "html", "empty", "unknown".
    """
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "empty"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"{\"error", b"<")):
        return "html"
    if head.startswith(b"PK\x03\x04"):
        return "torch-zip"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "torch-legacy"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    return "unknown"


def check_file(path: str | Path, expected_size: int | None = None) -> Path:
    """Fail fast on a missing, empty, HTML, or wrongly sized weights file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: model file not found")
    size = path.stat().st_size
    kind = sniff(path)
    if kind == "empty":
        raise CheckpointError(f"{path}: the file is empty (0 bytes); download it again")
    if kind == "html":
        raise CheckpointError(
            f"{path}: this is an HTML/text page, not model weights (a failed or redirected download); "
            "delete it and download the model again"
        )
    if expected_size is not None and size != expected_size:
        what = "truncated (incomplete download)" if size < expected_size else "larger than expected"
        raise CheckpointError(f"{path}: {size:,} bytes but {expected_size:,} expected: the file is {what}")
    return path


def container_problem(path: str | Path) -> str | None:
    """What is wrong with the whole container of a weights file, or None. Reads all of it: every zip
    member's CRC, a safetensors header against the file size, a legacy pickle loaded weights-only.
    Catches what size and the first bytes cannot: a file zero-padded or damaged inside."""
    path = Path(path)
    kind = sniff(path)
    if kind == "torch-zip":
        try:
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            return f"a damaged zip archive ({_first_line(str(e))})"
        return f"damaged inside (zip member {bad} fails its CRC check)" if bad is not None else None
    if kind == "safetensors":
        return _safetensors_problem(path)
    if kind == "torch-legacy":
        try:
            load_torch_checkpoint(path)
        except CheckpointError as e:
            return str(e).removeprefix(f"{path}: ")
        return None
    return f"not a weights file (its content looks like {kind})"


def _safetensors_problem(path: Path) -> str | None:
    size = path.stat().st_size
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if n <= 0 or 8 + n > size:
                return "a damaged safetensors header"
            header = json.loads(f.read(n))
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        return f"a damaged safetensors header ({_first_line(str(e))})"
    if 8 + n + end != size:
        return f"{size:,} bytes where its header describes {8 + n + end:,} (padded or truncated)"
    return None


def load_torch_checkpoint(path: str | Path, expected_size: int | None = None) -> dict[str, Any]:
    """Load a PyTorch checkpoint dict with ``weights_only=True`` onto the CPU.

    Raises:
        CheckpointError: missing/empty/HTML/truncated/corrupt file, or a pickle that wants to run code.
    """
    path = check_file(path, expected_size)
    kind = sniff(path)
    if kind == "safetensors":
        raise CheckpointError(f"{path}: this is a safetensors file; load it as one (rename it to .safetensors)")
    if kind == "unknown":
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle: "
                              "the file is corrupt or of another kind)")
    if kind == "torch-zip":
        try:
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
        except zipfile.BadZipFile:
            raise CheckpointError(f"{path}: the file is truncated or corrupt (incomplete zip archive)") from None
        if bad is not None:
            raise CheckpointError(f"{path}: the file is corrupt (damaged member {bad})")
    try:
        with warnings.catch_warnings():  # torch warns about old pickle protocols before refusing them
            warnings.filterwarnings("ignore", message=".*pickle protocol.*")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        msg = str(e)
        names_code = "Unsupported global" in msg or "unsupported GLOBAL" in msg
        if names_code or (kind == "torch-legacy" and _pickle_wants_code(path)):
            raise CheckpointError(
                f"{path}: refused: the file contains Python objects that would run code when loaded, "
                "not plain weights (only weights-only checkpoints are accepted)"
            ) from None
        raise CheckpointError(f"{path}: the file is corrupt or truncated (not a valid checkpoint pickle)") from None
    except (EOFError, RuntimeError, OSError, ValueError, KeyError, AttributeError) as e:
        raise CheckpointError(f"{path}: the file is corrupt or truncated ({_first_line(str(e))})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a checkpoint dictionary, found {type(obj).__name__}")
    return obj


_WEIGHT_MODULES = ("torch", "collections", "_codecs", "numpy")  # what weights pickles name


def _pickle_wants_code(path: Path) -> bool:
    """True when a (raw) pickle in `path` names Python callables outside torch/numpy/collections; False
    when it does not even parse (then it is corrupt, not malicious). Reads opcodes only, never runs them."""
    import pickletools

    size = path.stat().st_size
    try:
        with open(path, "rb") as f:
            for _ in range(8):  # the legacy torch format is a few pickles in a row, then raw storage
                strings: list[str] = []
                for op, arg, _ in pickletools.genops(f):
                    if isinstance(arg, str):
                        strings = (strings + [arg])[-2:]
                    module = arg.split(" ")[0] if op.name in ("GLOBAL", "INST") else \
                        strings[0] if op.name == "STACK_GLOBAL" and len(strings) == 2 else None
                    if module is not None and not module.startswith(_WEIGHT_MODULES):
                        return True
                if f.tell() >= size or f.peek(1)[:1] != b"\x80":
                    return False
    except Exception:  # noqa: BLE001 - any parse failure means "not a valid pickle"
        return False
    return False


def _first_line(s: str) -> str:
    line = s.strip().splitlines()[0] if s.strip() else "unknown error"
    return line[:200]


def model_state_of(ckpt: dict[str, Any], path: str | Path) -> dict[str, torch.Tensor]:
    """The state_dict inside a published checkpoint (``model_state``), or the dict itself if bare."""
    state = ckpt.get("model_state", ckpt)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: no model_state of tensors in this checkpoint (keys: {list(ckpt)[:5]})")
    return check_finite_weights(state, path)


def check_finite_weights(state: dict[str, torch.Tensor], path: str | Path) -> dict[str, torch.Tensor]:
    """`state` unchanged, or CheckpointError naming the first tensor holding NaN or infinite values."""
    for name, t in state.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path}: the weights are damaged ({name} holds NaN or infinite values)")
    return state


# --------------------------------------------------------------------------------------------------
# The project's safetensors format


def save_safetensors(path: str | Path, state: dict[str, torch.Tensor], kind: str, config: Any,
                     extra: dict[str, str] | None = None) -> Path:
    """Write `state` as safetensors with `kind`, format version and the config dataclass as metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "kind": kind,
            "config": json.dumps(dataclasses.asdict(config))}
    meta.update(extra or {})
    tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    tmp = path.with_suffix(path.suffix + ".part")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def safetensors_kind(path: str | Path) -> str | None:
    """The model kind stored in one of our safetensors files (None if it is not one)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("kind")
    except (SafetensorError, OSError, ValueError):
        return None


def load_safetensors(path: str | Path, kind: str) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, str]]:
    """Read our safetensors file. Returns (state, config dict, all metadata).

    Raises:
        CheckpointError: wrong container, truncated file, another kind of model, or a missing config.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = check_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file, or truncated ({_first_line(str(e))})") from None
    check_finite_weights(state, path)
    if meta.get("kind") != kind:
        raise CheckpointError(f"{path}: holds a {meta.get('kind', 'unknown')!r} model, expected {kind!r}")
    if "config" not in meta:
        raise CheckpointError(f"{path}: no config stored with the weights; not a {FORMAT_NAME} file")
    return state, json.loads(meta["config"]), meta


MAX_CONFIG_INT = 1 << 24
_MAY_BE_ZERO = ("dropout", "zoneout", "preemphasis", "coverage", "epsilon", "weight_decay", "probability", "share")


def config_from_dict(cls: type, data: dict[str, Any], source: str | Path | None = None) -> Any:
    """Build a (frozen) config dataclass from a dict, converting lists back to tuples, ignoring unknowns.

    Each value must have its default's type, and a number whose default is positive must be positive
    and finite (a crafted header with "fps": 0 or NaN is refused here, not as a ZeroDivisionError later).
    Raises:
        CheckpointError: naming `source` (the file the config came from), the field and the value.
    """
    where = f"{source}: " if source is not None else ""
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = _to_tuple(data[f.name])
        default = f.default if f.default is not dataclasses.MISSING else None
        if isinstance(default, (int, float)) and any(k in f.name for k in _MAY_BE_ZERO):
            default = 0 if isinstance(default, int) and not isinstance(default, bool) else 0.0
        problem = _config_problem(default, value)
        if problem:
            raise CheckpointError(f"{where}invalid config value {f.name} = {value!r:.60} ({problem})")
        kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{where}invalid config ({_first_line(str(e))})") from None


def _config_problem(default: Any, value: Any) -> str | None:
    """Why `value` cannot replace `default` in a config, or None."""
    if isinstance(default, bool) or default is None:
        return None if isinstance(value, bool) or default is None else "expected true or false"
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "expected a number"
        if isinstance(default, int) and not isinstance(value, int):
            return "expected an integer"
        if not math.isfinite(value) or abs(value) > MAX_CONFIG_INT:
            return "out of range"
        if default > 0 and value <= 0:
            return "must be positive"
        if default >= 0 and value < 0:
            return "must not be negative"
        return None
    if isinstance(default, str):
        return None if isinstance(value, str) else "expected a string"
    if isinstance(default, tuple):
        if not isinstance(value, tuple):
            return "expected a list"
        if not default:
            return None
        record = any(type(d) is not type(default[0]) for d in default)  # e.g. (r, lr, until, batch)
        if record and len(value) != len(default):
            return f"expected {len(default)} values"
        for i, v in enumerate(value):
            problem = _config_problem(default[i] if record else default[0], v)
            if problem:
                return problem
    return None


def build_checked(factory: Callable[[Any], torch.nn.Module], config: Any, state: dict[str, torch.Tensor],
                  path: str | Path, what: str) -> torch.nn.Module:
    """`factory(config)`, after checking on the meta device (no memory) that the config gives exactly
    the shapes of `state`: a crafted config with huge dimensions is refused before it is allocated."""
    try:
        with torch.device("meta"):
            probe = factory(config)
    except (TypeError, ValueError, RuntimeError, ZeroDivisionError) as e:
        raise CheckpointError(f"{path}: the stored config does not describe a {what} ({_first_line(str(e))})") from None
    _check_layout(probe, state, path, what)
    return factory(config)


def _to_tuple(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_to_tuple(v) for v in value)
    return value


def read_weights(path: str | Path, kind: str, config_cls: type, published: Any
                 ) -> tuple[dict[str, torch.Tensor], Any, dict[str, Any]]:
    """State and config from our safetensors (config stored with the weights) or a published ``.pt``
    (whose architecture is the `published` config). Returns (state, config, the .pt dict or {})."""
    path = Path(path)
    if path.suffix == ".safetensors":
        state, config_dict, _ = load_safetensors(path, kind)
        return state, config_from_dict(config_cls, config_dict, path), {}
    ckpt = load_torch_checkpoint(path)
    return model_state_of(ckpt, path), published, ckpt


def load_strict(net: torch.nn.Module, state: dict[str, torch.Tensor], path: str | Path, what: str) -> None:
    """`load_state_dict(strict=True)` with a one-line error naming what does not match.

    `what` names the expected model in the message, e.g. "speaker encoder".
    """
    _check_layout(net, state, path, what)
    net.load_state_dict(state, strict=True)


def _check_layout(net: torch.nn.Module, state: dict[str, torch.Tensor], path: str | Path, what: str) -> None:
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        detail = "; ".join(filter(None, [
            f"missing {missing[:3]}" if missing else "",
            f"unexpected {unexpected[:3]}" if unexpected else "",
            f"shape {wrong[:3]}" if wrong else ""]))
        raise CheckpointError(f"{path}: not a {what} checkpoint of this layout ({detail})")
