#!/usr/bin/env bash
# The CPU twin of jobs/gpu/train.sh's transcriber_offset: the shipped transcriber fine-tuned whole (trunk,
# onset, frame, velocity and offset heads) with the offset term, on a 2-core machine in about 80 minutes.
#   bash jobs/train_offset_cpu.sh [STEPS] [extra Hydra overrides]
# Trains on data/refine's train split and validates on data/styles' validation split (a folder of links,
# data/offset_ft, joins them), rendered first if missing:
#   jointist-synth root=data/refine num_tracks=800 duration_s=30 seed=41 'splits={train: 1.0}'
#   jointist-synth root=data/styles num_tracks=375 duration_s=30 seed=10 \
#       'splits={train: 0, validation: 0.4, test: 0.4, test_style: 0.2}'
# A killed run resumes from its last checkpoint with the same command and ckpt_path=<run>/checkpoints/last.ckpt.
set -euo pipefail
steps="${1:-1200}"
shift || true
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-4000000000}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-8000000000}"
[ -d data/refine/train ] || jointist-synth root=data/refine num_tracks=800 duration_s=30 seed=41 'splits={train: 1.0}'
[ -d data/styles/validation ] || jointist-synth root=data/styles num_tracks=375 duration_s=30 seed=10 \
  'splits={train: 0, validation: 0.4, test: 0.4, test_style: 0.2}'
mkdir -p data/offset_ft
ln -sfn "$(cd data/refine && pwd)/train" data/offset_ft/train
ln -sfn "$(cd data/styles && pwd)/validation" data/offset_ft/validation
cp data/refine/corpus.yaml data/offset_ft/corpus.yaml
jointist-train experiment=transcriber_synth data.root=data/offset_ft model.velocity=true model.offset=true \
  data.augment.enabled=true task.optimizer.lr=3e-4 "task.pretrained={transcriber:jointist/weights/jointist.pt}" \
  trainer.max_steps="$steps" trainer.val_check_interval=300 trainer.limit_val_batches=10 \
  trainer.max_time=00:02:20:00 data.num_workers=1 seed=7 name=transcriber_offset_cpu "$@"
