#!/usr/bin/env bash
# Train the shipped models side by side on one GPU, in commands shorter than the borrowed machine's
# 10-minute limit; each call resumes from the runs' last checkpoints.
#   bash jobs/gpu/train.sh NAME MINUTES [RUN=STEPS ...]
# RUN is one of the runs below (transcriber, transcriber_big, transcriber_ft, transcriber_ft2, transcriber_ft3, transcriber_v,
# transcriber_wide, transcriber_offset, separator,
# separator_ft, recognizer, recognizer_ft, recognizer_style, seq2seq, seq2seq_mc, seq2seq_aux, and the rows of issue 10's comparison cmp_T, cmp_TS,
# cmp_pTS, cmp_pTS_ste, cmp_S, cmp_S_gt, cmp_IR_T_S);
# with none named, the three shipped roles train. NAME names the runs ($JOINTIST_GPU_HOME/runs/NAME-RUN);
# each call trains each run MINUTES more (Lightning's max_time counts from the time its last
# checkpoint recorded) or until it reaches its STEPS, the length of its one-cycle learning-rate
# schedule: keep them the same across the calls of a run. A first call with NAME=probe and MINUTES=2
# measures the steps per minute to size STEPS. Every call leaves one bundle in $OUT (when set): a lost
# machine loses one call at most. Checkpoints are written at each validation (every 250 steps), not
# when time runs out; the transcriber runs keep every one, exported as small model files, because their
# validation F1 at fixed thresholds is noisy and the choice is made afterwards with tuned thresholds.
set -uo pipefail
home="${JOINTIST_GPU_HOME:-/root/jointist-gpu}"
. "$home/env.sh"
data="${JOINTIST_GPU_DATA:-$home/data/synth}"
trainer="${JOINTIST_GPU_TRAINER:-gpu}"
repo=$(pwd)
mode=$1 minutes=$2; shift 2
[ -n "$mode" ] && [ "$minutes" -gt 0 ] 2>/dev/null || { echo "usage: train.sh NAME MINUTES [RUN=STEPS ...]" >&2; exit 2; }
declare -A steps=()
for kv in "$@"; do steps[${kv%%=*}]=${kv#*=}; done
[ ${#steps[@]} -gt 0 ] || steps=([transcriber]=100000 [separator]=100000 [recognizer]=100000)
# CPU cores for data loading, out of the machine's 16
declare -A workers=([transcriber]=5 [transcriber_big]=5 [transcriber_ft]=5 [transcriber_ft2]=5 [transcriber_v]=5 [separator]=8
                    [separator_ft]=3 [recognizer]=3 [recognizer_ft]=4 [recognizer_style]=4)
transcriber="experiment=transcriber_synth data.batch_size=16 task.optimizer.lr=2e-3 trainer.precision=32-true data.train_examples_per_epoch=32000 callbacks.checkpoint.save_top_k=-1"
recognizer="experiment=recognizer_synth data.batch_size=32 data.train_examples_per_epoch=32000"
declare -A args=(
  # the first GPU run (batch 32, lr 3e-3, bf16) reached validation note F1 0.2-0.44 at fixed thresholds:
  # the next ones use the CPU recipe's rate in full precision
  [transcriber]="$transcriber"
  # 2.9x the parameters (wider trunk, receptive field 63 frames) for about 1.2x the CPU inference time
  [transcriber_big]="$transcriber model.trunk_channels=[24,64] model.dilations=[1,2,4,8,16]"
  [separator]="experiment=separator_synth data.batch_size=16 data.train_examples_per_epoch=16000"
  [recognizer]="$recognizer task.optimizer.lr=5e-4"
  # the shipped recognizer (its validation loss rose after 1500 steps on 1620 tracks) fine-tuned on new songs
  [recognizer_ft]="$recognizer task.optimizer.lr=2e-4 task.pretrained={recognizer:$repo/jointist/weights/jointist.pt}"
  # the third session's corpus has classical styles and jazz held out; these runs augment their windows
  # (stem gains, dropout, pitch shift, remixing) and the transcribers learn velocity:
  # the shipped transcriber fine-tuned (its velocity head starts fresh), and the same layout from scratch
  [transcriber_ft]="$transcriber model.trunk_channels=[24,64] model.dilations=[1,2,4,8,16] model.velocity=true data.augment.enabled=true task.optimizer.lr=1e-3 task.pretrained={transcriber:$repo/jointist/weights/jointist.pt}"
  [transcriber_v]="$transcriber model.trunk_channels=[24,64] model.dilations=[1,2,4,8,16] model.velocity=true data.augment.enabled=true"
  [recognizer_style]="$recognizer task.optimizer.lr=3e-4 data.augment.enabled=true task.pretrained={recognizer:$repo/jointist/weights/jointist.pt}"
  # the fourth session: the shipped transcriber (transcriber_ft, cut off at step 3751 before its rate annealed)
  # fine-tuned on new songs with a schedule that ends inside the session
  [transcriber_ft2]="$transcriber model.trunk_channels=[24,64] model.dilations=[1,2,4,8,16] model.velocity=true data.augment.enabled=true task.optimizer.lr=5e-4 task.pretrained={transcriber:$repo/jointist/weights/jointist.pt}"
  # the shipped separator (pop songs, true rolls) fine-tuned on the styles corpus, reading the shipped
  # transcriber's posteriors as it will at inference (the pretrained transcriber kept frozen: pTS's schedule)
  [separator_ft]="experiment=separator_synth data.batch_size=16 data.train_examples_per_epoch=16000 data.augment.enabled=true task.optimizer.lr=3e-4 task.pretrained={separator:$repo/jointist/weights/jointist.pt} task.condition=transcriber task.transcriber=$repo/jointist/weights/jointist.pt"
)
# the seq2seq head (MT3's formulation, issue 12): the CPU-sized default, single-stream and multi-channel
# (decode_cache: FLAC decoding made the loader the bottleneck, 1.07 s per batch of 64 on one core
# against 0.22 s from the decoded cache)
args[seq2seq]="experiment=seq2seq_synth data.batch_size=64 data.train_examples_per_epoch=64000 data.augment.enabled=true data.decode_cache=auto task.val_decode_batches=1"
args[seq2seq_mc]="${args[seq2seq]} model.channels=13"
# the single-stream run with the auxiliary frame loss on its encoder (no help after 700 CPU steps: untested at scale)
args[seq2seq_aux]="${args[seq2seq]} model.frame_head=true task.frame_loss_weight=0.5"
workers[seq2seq]=5 workers[seq2seq_mc]=5 workers[seq2seq_aux]=4
# validation decodes greedily (up to 1024 tokens a stream): fewer batches than the frame-wise runs
# (the fifth session: 3 batches of 64 windows took 85 s each with three runs sharing the cores, and the
# runs were killed in their first validation): the loss on 8 batches, greedy decoding on the first only
declare -A val_batches=([seq2seq]=8 [seq2seq_mc]=8 [seq2seq_aux]=8 [seq2seq_warm]=8)
# a single-stream model trained on, alone on the machine: call 2 copies .gpu_s2s/model.pt (carried; it does
# not fit with .gpu3) to $home/s2s_cpu.pt (the fifth session: the CPU model of 3800 steps of batch 8; next:
# that session's GPU model, 1400 more steps of batch 64, kept in .gpu_s2s/ on the CPU machine)
args[seq2seq_warm]="${args[seq2seq]} task.pretrained={seq2seq:$home/s2s_cpu.pt}"
workers[seq2seq_warm]=12
# the fifth session: the shipped transcriber (transcriber_ft2's end) fine-tuned further, its windows from the decoded cache
args[transcriber_ft3]="${args[transcriber_ft2]} data.decode_cache=auto task.optimizer.lr=3e-4"
workers[transcriber_ft3]=5
# transcriber_ft3 matched the shipped model on validation (0.758 / 0.396): fine-tuning no longer moves
# the [24, 64] layout. Capacity next, within the 0.1x CPU budget (shipped: 0.082x); `python jobs/time_layouts.py`
# relative to the shipped layout: dilations up to 32 1.01x, a [24, 80] trunk 1.15x, [24, 80] with dilations
# up to 32 1.34x, [32, 96] 1.87x. So [24, 80] (208 k parameters), from scratch over more than one session
# (carry its last.ckpt back in .gpu_resume/, see below); check its speed before shipping it
args[transcriber_wide]="$transcriber model.trunk_channels=[24,80] model.dilations=[1,2,4,8,16] model.velocity=true data.augment.enabled=true data.decode_cache=auto"
workers[transcriber_wide]=6
# the seventh session: an offset head (model.offset=true) trained with the trunk, from the shipped weights. Trained
# alone on the frozen trunk (jobs/offset_head.py, CPU) it ends few notes better: the trunk's features must learn offsets
args[transcriber_offset]="${args[transcriber_ft2]} model.offset=true data.decode_cache=auto task.optimizer.lr=3e-4"
workers[transcriber_offset]=5
# issue 10's comparison (conf/experiment/<row>.yaml): equal step budgets of batch 8 x 5 s, the CPU-sized
# transcriber in every row that has one, one validation every 250 steps (a checkpoint to resume from);
# pTS and pTS_ste start from cmp_T's model file (they wait for it), frozen for the first fifth of the budget
for row in T TS pTS pTS_ste S S_gt IR_T_S; do
  extra=""
  case $row in T|TS|pTS|pTS_ste|IR_T_S) extra="model@models.transcriber=transcriber_small" ;; esac
  args[cmp_$row]="experiment=$row data.batch_size=8 data.train_examples_per_epoch=64000 $extra"
  workers[cmp_$row]=1
done
for run in "${!steps[@]}"; do
  [ -n "${args[$run]:-}" ] || { echo "unknown run $run (known: ${!args[*]})" >&2; exit 2; }
done
runs=$(printf '%s\n' "${!steps[@]}" | sort)
pids=()
for role in $runs; do
  out="$home/runs/$mode-$role"; mkdir -p "$out"
  resume=() elapsed=0 extra=()
  # a run carried on from an earlier session: .gpu_resume/NAME-RUN/last.ckpt, carried in any call
  carried="$repo/.gpu_resume/$mode-$role/last.ckpt"
  if [ ! -f "$out/checkpoints/last.ckpt" ] && [ -f "$carried" ]; then
    mkdir -p "$out/checkpoints"; cp "$carried" "$out/checkpoints/last.ckpt"; echo "$role: resumes the carried $carried"
  fi
  if [ -f "$out/checkpoints/last.ckpt" ]; then
    resume=(ckpt_path="$out/checkpoints/last.ckpt" trust_checkpoint=true)
    read -r elapsed step < <(python3 -c "import sys, torch; s = torch.load(sys.argv[1], map_location='cpu', weights_only=False)
print(int(s['callbacks']['Timer']['time_elapsed']['train']), s['global_step'])" "$out/checkpoints/last.ckpt")
    # a run that reached its steps is done: no process (and no 30 s of start-up) for it
    [ "$step" -ge "${steps[$role]}" ] && { echo "$role: done at step $step"; continue; }
  fi
  case $role in
    cmp_pTS|cmp_pTS_ste)
      pre="$home/runs/$mode-cmp_T/model.pt"
      [ -f "$home/runs/$mode-cmp_T/done" ] || { echo "$role: waits for cmp_T to finish"; continue; }
      extra=(task.pretrained.transcriber="$pre" task.freeze.transcriber.until_step=$((steps[$role] / 5))) ;;
  esac
  total=$((elapsed + minutes * 60))
  max_time=$(printf "00:%02d:%02d:%02d" $((total / 3600)) $((total % 3600 / 60)) $((total % 60)))
  # shellcheck disable=SC2086
  # a hard stop two minutes past the budget keeps the call inside the machine's limit, whatever happens
  timeout $((minutes * 60 + 120)) jointist-train ${args[$role]} trainer="$trainer" data.root="$data" paths.output_dir="$out" \
    data.num_workers="${workers[$role]}" trainer.max_time="$max_time" trainer.max_steps="${steps[$role]}" \
    trainer.val_check_interval="${JOINTIST_GPU_VAL_EVERY:-250}" trainer.limit_val_batches="${val_batches[$role]:-${JOINTIST_GPU_VAL_BATCHES:-20}}" \
    "task.scheduler={_target_: torch.optim.lr_scheduler.OneCycleLR, _partial_: true, max_lr: \${task.optimizer.lr}, total_steps: \${trainer.max_steps}, pct_start: 0.05}" \
    "${extra[@]}" "${resume[@]}" >> "$out/train.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
bundle="$home/bundle/$mode"; rm -rf "$bundle"; mkdir -p "$bundle"
for role in $runs; do
  out="$home/runs/$mode-$role"
  # the summary, and every checkpoint but last.ckpt as a small model file (weights and card, no optimiser)
  python3 - "$out" "$role" "$bundle/$role" "${steps[$role]}" <<'PY'
import sys, torch
from pathlib import Path
from jointist.models.serialize import load_models, read_model_file, save_models
out, role, dest = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
ckpt = out / "checkpoints" / "last.ckpt"
if not ckpt.is_file():
    print(f"{role}: no checkpoint; end of {out / 'train.log'}:")
    print("".join(open(out / "train.log").readlines()[-15:]))
    sys.exit(0)
state = torch.load(ckpt, map_location="cpu", weights_only=False)
best = [c for k, c in state.get("callbacks", {}).items() if "ModelCheckpoint" in k]
score = best[0].get("best_model_score") if best else None
print(f"{role}: step {state['global_step']}, best {float(score) if score is not None else None}")
if state["global_step"] >= int(sys.argv[4]):
    (out / "done").touch()  # the schedule's end: model.pt is final
if role.startswith("transcriber"):
    (dest / "models").mkdir(parents=True, exist_ok=True)
    for c in sorted((out / "checkpoints").glob("step*.ckpt")):
        steps = int(read_model_file(str(c))["global_step"])
        models = {r: (m, card.replace(trained_steps=steps)) for r, (m, card) in load_models(str(c)).items()}
        save_models(models, dest / "models" / f"{c.stem}.pt")
PY
  mkdir -p "$bundle/$role"
  [ -f "$out/model.pt" ] && cp "$out/model.pt" "$bundle/$role/model.pt"
  # the comparison's rows bring back their model file only (the bundle's size: 8 files of 15 MiB per call)
  case $role in cmp_*) ;; *) [ -f "$out/checkpoints/last.ckpt" ] && cp "$out/checkpoints/last.ckpt" "$bundle/$role/last.ckpt" ;; esac
done
tar -C "$home/runs" -czf "$bundle/logs.tar.gz" --exclude='*.ckpt' --exclude='*.pt' .
if [ -n "${OUT:-}" ]; then
  # files come back at most 16 MiB each and 8 per call: one tar in 15 MiB parts
  # (here: cat bundle.tar.part* | tar -x)
  tar -C "$bundle" -cf - . | split -b 15M -d -a 1 - "$OUT/bundle.tar.part"
  ls -la "$OUT"
fi
exit $status
