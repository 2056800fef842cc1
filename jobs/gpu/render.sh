#!/usr/bin/env bash
# Render a training corpus on the GPU machine's 16 cores (after jobs/gpu/setup.sh): train and
# validation splits only, new songs (a seed other than the CPU corpus' 0, whose test split we report on).
#   bash jobs/gpu/render.sh [NUM_TRACKS] [SEED] [jointist-synth overrides, e.g. 'timbre.splits=[train]']
#   (1800 tracks of 30 s took 2 min on 16 cores)
set -euo pipefail
home="${JOINTIST_GPU_HOME:-/root/jointist-gpu}"
. "$home/env.sh"
# soundfonts.test and .test_style are never used (no test splits) but must name a SoundFont the machine has
jointist-synth root="${JOINTIST_GPU_DATA:-$home/data/synth}" num_tracks="${1:-1800}" duration_s=30 seed="${2:-1}" \
  'splits={train: 0.9, validation: 0.1, test: 0.0, test_style: 0.0}' 'soundfonts.test=[sf_GMbank.sf2]' \
  'soundfonts.test_style=[sf_GMbank.sf2]' progress=false stats=false "${@:3}"
du -sh "$home/data"
