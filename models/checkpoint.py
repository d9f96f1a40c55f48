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
import pickle
import warnings
import zipfile
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


def load_torch_checkpoint(path: str | Path, expected_size: int | None = None) -> dict[str, Any]:
    """Load a PyTorch checkpoint dict with ``weights_only=True`` onto the CPU.

    Raises:
        CheckpointError: missing/empty/HTML/truncated/corrupt file, or a pickle that wants to run code.
    """
    path = check_file(path, expected_size)
    kind = sniff(path)
    if kind == "safetensors":
        raise CheckpointError(f"{path}: this is a safetensors file; load it as one (rename it to .safetensors)")
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
        if "weights_only" in msg or "Unsupported global" in msg or "GLOBAL" in msg:
            raise CheckpointError(
                f"{path}: refused: the file contains Python objects that would run code when loaded, "
                "not plain weights (only weights-only checkpoints are accepted)"
            ) from None
        raise CheckpointError(f"{path}: the file is corrupt or truncated ({_first_line(msg)})") from None
    except (EOFError, RuntimeError, OSError, ValueError, KeyError, AttributeError) as e:
        raise CheckpointError(f"{path}: the file is corrupt or truncated ({_first_line(str(e))})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a checkpoint dictionary, found {type(obj).__name__}")
    return obj


def _first_line(s: str) -> str:
    line = s.strip().splitlines()[0] if s.strip() else "unknown error"
    return line[:200]


def model_state_of(ckpt: dict[str, Any], path: str | Path) -> dict[str, torch.Tensor]:
    """The state_dict inside a published checkpoint (``model_state``), or the dict itself if bare."""
    state = ckpt.get("model_state", ckpt)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: no model_state of tensors in this checkpoint (keys: {list(ckpt)[:5]})")
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
    if meta.get("kind") != kind:
        raise CheckpointError(f"{path}: holds a {meta.get('kind', 'unknown')!r} model, expected {kind!r}")
    if "config" not in meta:
        raise CheckpointError(f"{path}: no config stored with the weights; not a {FORMAT_NAME} file")
    return state, json.loads(meta["config"]), meta


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build a (frozen) config dataclass from a dict, converting lists back to tuples, ignoring unknowns."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in data.items():
        if name in fields:
            kwargs[name] = _to_tuple(value)
    return cls(**kwargs)


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
        return state, config_from_dict(config_cls, config_dict), {}
    ckpt = load_torch_checkpoint(path)
    return model_state_of(ckpt, path), published, ckpt


def load_strict(net: torch.nn.Module, state: dict[str, torch.Tensor], path: str | Path, what: str) -> None:
    """`load_state_dict(strict=True)` with a one-line error naming what does not match.

    `what` names the expected model in the message, e.g. "speaker encoder".
    """
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
    net.load_state_dict(state, strict=True)
