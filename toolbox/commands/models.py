"""`sv2tts models list | download [NAME...] | verify [NAME] | import PATH [--name NAME]`: the model store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:  # imported by the actions: models.store loads torch
    from models.store import ModelStore, VerifyResult

EXAMPLES = """examples:
  sv2tts models list
  sv2tts models download synthesizer vocoder
  sv2tts models verify --rehash
  sv2tts models import ~/Downloads/vocoder.pt
  SV2TTS_MODELS_DIR=/data/models sv2tts models list"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help="list, download, verify and import model weights", epilog=EXAMPLES)
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="cache directory (default: $SV2TTS_MODELS_DIR or the user cache)")
    parser.add_argument("--manifest", type=Path, default=None,
                        help="model manifest (default: $SV2TTS_MANIFEST or the bundled one)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    p = actions.add_parser("list", help="every model with its status, size, path and sources",
                           epilog="examples:\n  sv2tts models list\n  sv2tts models --models-dir DIR list")
    p.set_defaults(func=_list)

    p = actions.add_parser("download", help="download models (default: every missing one)",
                           epilog="examples:\n  sv2tts models download\n  sv2tts models download vocoder -q\n"
                                  "  HF_ENDPOINT=https://mirror.example sv2tts models download synthesizer")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--force", action="store_true", help="download again even when present")
    p.set_defaults(func=_download)

    p = actions.add_parser("verify", help="check size, format and sha256 of the present files",
                           epilog="examples:\n  sv2tts models verify\n  sv2tts models verify encoder --rehash")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--rehash", action="store_true",
                   help="recompute hashes instead of trusting the remembered ones")
    p.set_defaults(func=_verify)

    p = actions.add_parser("import", help="copy a downloaded-by-hand file into the store, after checking it",
                           epilog="examples:\n  sv2tts models import ~/Downloads/synthesizer.pt\n"
                                  "  sv2tts models import weights.pt --name vocoder")
    p.add_argument("file", type=Path, metavar="PATH")
    p.add_argument("--name", default=None, help="which model it is (default: recognised by size and hash)")
    p.set_defaults(func=_import)

    parser.set_defaults(func=lambda args: _list(args))


def _store(args: argparse.Namespace) -> ModelStore:
    from models.store import ModelStore

    return ModelStore(cache_dir=args.models_dir, manifest=args.manifest)


def _row(r: VerifyResult, sources: str, size: int | None) -> str:
    shown = f"{size:,}" if size is not None else "?"
    return f"{r.name:<16} {r.status:<8} {shown:>13}  {r.path or '-'}  [{sources}]"


def _list(args: argparse.Namespace) -> int:
    store = _store(args)
    results = store.verify(thorough=False)
    print(f"models in {store.cache_dir} (manifest {store.manifest_path})")
    print(f"{'NAME':<16} {'STATUS':<8} {'SIZE (bytes)':>13}  PATH  [SOURCES]")
    for entry, r in zip(store.entries(), results, strict=True):
        sources = ", ".join(s.type for s in entry.sources) or "bundled"
        print(_row(r, sources, r.size if r.size is not None else entry.size))
    for r in results:
        if r.status == "bad":
            print(f"{r.name}: {r.path} is bad: {r.detail}")
        elif r.status == "missing":
            print(f"{r.name}: missing; {r.detail}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from models.checkpoint import CheckpointError

    store = _store(args)
    names = args.names or [e.name for e in store.entries() if e.sources]
    failed = 0
    for name in names:
        store.entry(name)  # unknown names fail before anything is fetched
    for name in names:
        present = store.path(name)
        if present is not None and not args.force:
            print(f"{name}: already present at {present}")
            continue
        try:
            path = store.download(name, progress=not args.quiet)
        except CheckpointError as e:
            if len(names) == 1:
                raise
            print(f"sv2tts models: error: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"{name}: downloaded and verified: {path}")
    return 1 if failed else 0


def _verify(args: argparse.Namespace) -> int:
    store = _store(args)
    results = store.verify(args.name, rehash=args.rehash)
    for r in results:
        if r.status == "ok":
            print(f"{r.name}: ok  {r.path}  {r.size:,} bytes  sha256 {r.sha256 or '(not computed)'}")
        elif r.status == "bad":
            print(f"{r.name}: BAD {r.path}: {r.detail}")
        else:
            print(f"{r.name}: missing; {r.detail}")
    bad = any(r.status == "bad" for r in results) or (args.name is not None and not results[0].ok)
    return 1 if bad else 0


def _import(args: argparse.Namespace) -> int:
    store = _store(args)
    path = store.import_file(args.file, name=args.name)
    print(f"imported {args.file} -> {path}")
    return 0
