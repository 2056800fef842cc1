#!/usr/bin/env bash
# Train the shipped recognizer, transcriber and separator side by side on one GPU, in commands shorter
# than the borrowed machine's 10-minute limit; each call resumes from the runs' last checkpoints.
#   bash jobs/gpu/train.sh NAME MINUTES [transcriber=STEPS separator=STEPS recognizer=STEPS]
# NAME names the runs ($JOINTIST_GPU_HOME/runs/NAME-<role>); each call trains each run MINUTES more
# (Lightning's max_time counts from the time its last checkpoint recorded) or until it reaches its
# STEPS, the length of its one-cycle learning-rate schedule: keep them the same across the calls of a
# run. A first call with NAME=probe and MINUTES=2 measures the steps per minute to size STEPS. Every
# call copies the model files, last checkpoints and logs to $OUT (when set): a lost machine loses one
# call at most. Checkpoints are written at each validation (every 250 steps), not when time runs out.
set -uo pipefail
home="${JOINTIST_GPU_HOME:-/root/jointist-gpu}"
. "$home/env.sh"
data="${JOINTIST_GPU_DATA:-$home/data/synth}"
trainer="${JOINTIST_GPU_TRAINER:-gpu}"
mode=$1 minutes=$2; shift 2
[ -n "$mode" ] && [ "$minutes" -gt 0 ] 2>/dev/null || { echo "usage: train.sh NAME MINUTES [role=STEPS ...]" >&2; exit 2; }
declare -A steps=([transcriber]=100000 [separator]=100000 [recognizer]=100000)
for kv in "$@"; do steps[${kv%%=*}]=${kv#*=}; done
# CPU cores for data loading, out of the machine's 16
declare -A workers=([transcriber]=4 [separator]=8 [recognizer]=3)
declare -A args=(
  # the first GPU run (batch 32, lr 3e-3, bf16) stalled at train loss 0.068 from step 300 and validation note F1
  # 0.2-0.3 (the CPU recipe, batch 8 at 2e-3, reached 0.57 by step 1000): next, the CPU's rate in full precision
  [transcriber]="experiment=transcriber_synth data.batch_size=16 task.optimizer.lr=2e-3 trainer.precision=32-true data.train_examples_per_epoch=32000"
  [separator]="experiment=separator_synth data.batch_size=16 data.train_examples_per_epoch=16000"
  [recognizer]="experiment=recognizer_synth data.batch_size=32 task.optimizer.lr=5e-4 data.train_examples_per_epoch=32000"
)
pids=()
for role in transcriber separator recognizer; do
  out="$home/runs/$mode-$role"; mkdir -p "$out"
  resume=() elapsed=0
  if [ -f "$out/checkpoints/last.ckpt" ]; then
    resume=(ckpt_path="$out/checkpoints/last.ckpt" trust_checkpoint=true)
    elapsed=$(python3 -c "import sys, torch; s = torch.load(sys.argv[1], map_location='cpu', weights_only=False)
print(int(s['callbacks']['Timer']['time_elapsed']['train']))" "$out/checkpoints/last.ckpt")
  fi
  total=$((elapsed + minutes * 60))
  max_time=$(printf "00:%02d:%02d:%02d" $((total / 3600)) $((total % 3600 / 60)) $((total % 60)))
  # shellcheck disable=SC2086
  # a hard stop two minutes past the budget keeps the call inside the machine's limit, whatever happens
  timeout $((minutes * 60 + 120)) jointist-train ${args[$role]} trainer="$trainer" data.root="$data" paths.output_dir="$out" \
    data.num_workers="${workers[$role]}" trainer.max_time="$max_time" trainer.max_steps="${steps[$role]}" \
    trainer.val_check_interval="${JOINTIST_GPU_VAL_EVERY:-250}" trainer.limit_val_batches=20 \
    "task.scheduler={_target_: torch.optim.lr_scheduler.OneCycleLR, _partial_: true, max_lr: \${task.optimizer.lr}, total_steps: \${trainer.max_steps}, pct_start: 0.05}" \
    "${resume[@]}" >> "$out/train.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for role in transcriber separator recognizer; do
  out="$home/runs/$mode-$role"
  python3 - "$out" "$role" <<'PY'
import sys, torch
from pathlib import Path
out, role = Path(sys.argv[1]), sys.argv[2]
ckpt = out / "checkpoints" / "last.ckpt"
if not ckpt.is_file():
    print(f"{role}: no checkpoint; end of {out / 'train.log'}:")
    print("".join(open(out / "train.log").readlines()[-15:]))
else:
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    best = [c for k, c in state.get("callbacks", {}).items() if "ModelCheckpoint" in k]
    score = best[0].get("best_model_score") if best else None
    print(f"{role}: step {state['global_step']}, best {float(score) if score is not None else None}")
PY
  if [ -n "${OUT:-}" ]; then
    [ -f "$out/model.pt" ] && cp "$out/model.pt" "$OUT/$role.pt"
    # files come back at most 16 MiB each: larger checkpoints in parts (cat them to rejoin)
    [ -f "$out/checkpoints/last.ckpt" ] && split -b 15M -d -a 1 "$out/checkpoints/last.ckpt" "$OUT/$role.last.ckpt.part"
  fi
done
if [ -n "${OUT:-}" ]; then
  tar -C "$home/runs" -czf "$OUT/logs.tar.gz" --exclude='*.ckpt' --exclude='*.pt' .
fi
exit $status
