#!/usr/bin/env bash
# Install the Debian packages sv2tts-toolbox needs, when running as root and they are missing.
# Not root: print what is missing and how to install it, and carry on.
set -euo pipefail

packages=(
    libportaudio2                       # sounddevice: audio input/output
    ffmpeg                              # m4a/aac input
    libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon-x11-0   # Qt
    libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0
    libxcb-randr0 libxcb-shape0 libxcb-cursor0
    xvfb                                # virtual screen for window tests and screenshots
    espeak-ng flite                     # speech engines for the synthetic training corpus
)
command -v dpkg-query >/dev/null || { echo "system-deps: not a Debian system; install PortAudio, ffmpeg and Qt's xcb libraries yourself"; exit 0; }
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "system-deps: missing Debian packages: ${missing[*]}"
    echo "system-deps: install them with: sudo apt-get install ${missing[*]}"
fi
