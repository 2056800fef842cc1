#!/usr/bin/env bash
# Render the 10-hour synthetic corpus (once) and train the default transcriber and recognizer on it.
#   bash jobs/train_local.sh [extra Hydra overrides, e.g. trainer=gpu]
set -euo pipefail
# Keep large activations in glibc's heap instead of fresh mmaps that are page-faulted and returned on
# every step: the pitch-wise transcriber's steps take about half the time on a 2-core CPU.
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-4000000000}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-8000000000}"
root="${JOINTIST_SYNTH_ROOT:-data/synth10h}"
jointist-synth root="$root" num_tracks=1500 duration_s=30 seed=0
jointist-train experiment=transcriber_synth data.root="$root" "$@"
jointist-train experiment=recognizer_synth data.root="$root" "$@"
