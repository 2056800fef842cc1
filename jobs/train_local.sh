#!/usr/bin/env bash
# Render the 10-hour synthetic corpus (once) and train the default transcriber and recognizer on it.
#   bash jobs/train_local.sh [extra Hydra overrides, e.g. trainer=gpu]
set -euo pipefail
root="${JOINTIST_SYNTH_ROOT:-data/synth10h}"
jointist-synth root="$root" num_tracks=1500 duration_s=30 seed=0
jointist-train experiment=transcriber_synth data.root="$root" "$@"
jointist-train experiment=recognizer_synth data.root="$root" "$@"
