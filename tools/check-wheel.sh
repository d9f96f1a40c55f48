#!/usr/bin/env bash
# Install and run the toolbox as a user would, from the built wheel (called by .ci/run before the tests).
#
# Builds the sdist and, from it, the wheel; installs the wheel (with constraints.txt's torch pin) into a
# fresh venv outside the tree; then, from another folder, with every per-user folder (model cache, data,
# logs, settings) pointed at empty temporary ones and no network, runs `sv2tts models list`, checks each
# bundled model of the installed manifest, clones a voice to a file and through stdin/stdout, checks the
# 251 known speakers and runs the toolbox offscreen for a few seconds. The pip cache is reused.
#
# Usage: tools/check-wheel.sh [PYTHON]   (default python3). Keeps the folder when SV2TTS_KEEP_WHEEL_CHECK=1.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${1:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sv2tts-wheel-check.XXXXXX")
if [ "${SV2TTS_KEEP_WHEEL_CHECK:-0}" != 1 ]; then trap 'rm -rf "$WORK"' EXIT; fi
step() { printf '\n== wheel check: %s (%ss)\n' "$*" "$SECONDS"; }

step "build the sdist, then the wheel from it"
"$PYTHON" -m venv "$WORK/venv"
V=$WORK/venv/bin
"$V/pip" install -q build
"$V/python" -m build -q --outdir "$WORK/dist" "$REPO" > "$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; exit 1; }
ls -l "$WORK/dist"

step "install the wheel into a fresh venv"
"$V/pip" install -q --no-compile -c "$REPO/constraints.txt" "$WORK"/dist/*.whl  # byte code compiles on use

# From here on: another folder, empty per-user folders, no network, nothing from the repository.
mkdir -p "$WORK/run"
cd "$WORK/run"
unset PYTHONPATH SV2TTS_MODELS_DIR SV2TTS_MANIFEST
export HOME="$WORK/home" XDG_CACHE_HOME="$WORK/cache" XDG_DATA_HOME="$WORK/data" XDG_STATE_HOME="$WORK/state"
export XDG_CONFIG_HOME="$WORK/config" HF_HUB_OFFLINE=1 PIP_NO_INDEX=1
export http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9
export no_proxy= NO_PROXY=

step "the installed code is the wheel's, and the CLI starts"
"$V/python" - "$WORK/venv" <<'EOF'
import sys
from pathlib import Path

import models
import toolbox

for m in (models, toolbox):
    assert Path(m.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), f"{m.__file__} not installed"
EOF
"$V/sv2tts" --version
"$V/sv2tts" --help > /dev/null

step "sv2tts models list, and every bundled model of the installed manifest verified"
"$V/sv2tts" models list | tee "$WORK/models.txt"
grep -q "$WORK/cache/sv2tts/models" "$WORK/models.txt"
for name in $("$V/python" -c "
import json
from models.store import DEFAULT_MANIFEST
print(' '.join(m['name'] for m in json.loads(DEFAULT_MANIFEST.read_text())['models'] if m.get('path')))"); do
    "$V/sv2tts" models verify "$name"
done

step "the known-speaker map has its 251 speakers"
"$V/python" -c "
from toolbox.gui.session import KNOWN_SPEAKERS, KnownSpeakers
known = KnownSpeakers.load()
assert known is not None, KNOWN_SPEAKERS
n = len(set(known.speaker_ids.tolist()))
assert n == 251 and len(known) == 251, n
print(f'{n} known speakers in {KNOWN_SPEAKERS}')"

step "a reference voice"
REF=$(find "$REPO/../shared/data/librispeech/test-other" -name '*.flac' 2>/dev/null | sort | head -n 1 || true)
if [ -z "$REF" ]; then
    REF=$WORK/run/generated-voice.wav
    "$V/python" - "$REF" <<'EOF'
import sys

import numpy as np
import soundfile as sf

sr, t = 16000, np.arange(3 * 16000) / 16000  # 3 s of a voiced, pitch-gliding, syllable-modulated tone
f0 = 120 + 30 * np.sin(2 * np.pi * 0.5 * t)
phase = 2 * np.pi * np.cumsum(f0) / sr
wav = sum(np.sin(k * phase) / k for k in range(1, 25)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2
wav += 0.003 * np.random.default_rng(0).standard_normal(len(t))
sf.write(sys.argv[1], (0.3 * wav / np.abs(wav).max()).astype(np.float32), sr)
EOF
fi
echo "REF=$REF"

step "sv2tts clone to a file"
"$V/sv2tts" clone --voice "$REF" --text "Installed from the wheel, with no network." -o out.wav --seed 1
step "sv2tts clone from stdin to stdout"
echo "Hello." | "$V/sv2tts" -q clone --voice "$REF" --text-file - -o - > piped.wav
"$V/python" -c "
import soundfile as sf
for name in ('out.wav', 'piped.wav'):
    info = sf.info(name)
    assert (info.format, info.samplerate, info.channels) == ('WAV', 16000, 1) and info.frames > 8000, info
    print(f'{name}: {info.frames / info.samplerate:.2f} s, {info.subtype}')"

step "the toolbox, offscreen, for a few seconds"
QT_QPA_PLATFORM=offscreen timeout 300 "$V/sv2tts" toolbox --exit-after 5 2> toolbox.err || { tail -30 toolbox.err; exit 1; }
grep -q "window shown" toolbox.err || { tail -30 toolbox.err; exit 1; }
if grep -q Traceback toolbox.err; then tail -30 toolbox.err; exit 1; fi
step "passed"
