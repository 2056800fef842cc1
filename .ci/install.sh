#!/usr/bin/env bash
# Everything jointist needs on a fresh Debian machine: FluidSynth and GM SoundFonts, ffmpeg (museval
# imports musdb -> stempeg, which refuses to import without ffmpeg/ffprobe), then the CPU
# torch wheel first (so no other package pulls a CUDA build), then the package with its dev extra.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
pkgs="fluidsynth libfluidsynth3 fluid-soundfont-gm timgm6mb-soundfont csound-soundfont libsndfile1 ffmpeg"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check "torch==2.13.0"
python3 -m pip install -q --disable-pip-version-check -e ".[dev]"
python3 -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
