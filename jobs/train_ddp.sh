#!/usr/bin/env bash
# Multi-GPU data-parallel training on one node: bash jobs/train_ddp.sh experiment=transcriber_synth data.root=...
set -euo pipefail
jointist-train trainer=ddp "$@"
