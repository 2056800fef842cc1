#!/usr/bin/env bash
# Jointist's comparison on our corpus: the experiments of conf/experiment/ with one equal step budget,
# run one after the other (each resumes or is skipped when a previous call got that far), then each
# scored on the test split (the unheard SoundFont) with the same decoding thresholds.
#   bash jobs/compare_joint.sh DATA OUT STEPS TRACKS [ROW ...]
#   bash jobs/compare_joint.sh /work/data/synth10h /work/data/runs/compare 300 40 T TS pTS S S_gt
# Rows: T TS pTS pTS_ste S S_gt IR_T_S (default: all). pTS and pTS_ste start from T's model file.
# Results: OUT/<row>/test/report.json (note F1 family; SDR where the row separates) and OUT/table.md.
set -euo pipefail
data=$1 out=$2 steps=$3 tracks=$4; shift 4
rows=("$@"); [ ${#rows[@]} -gt 0 ] || rows=(T TS pTS pTS_ste S S_gt IR_T_S)
batch=${JOINTIST_COMPARE_BATCH:-8}
trainer=${JOINTIST_COMPARE_TRAINER:-cpu}     # gpu on a lent GPU machine
# the thresholds the shipped transcriber was tuned to on validation: one fixed choice for every row
decode=(decode.onset_threshold=0.2 decode.frame_threshold=0.1)
mkdir -p "$out"
for row in "${rows[@]}"; do
  run="$out/$row"
  if [ ! -f "$run/model.pt" ]; then
    extra=()
    # the CPU-sized transcriber (conf/model/transcriber_small.yaml) in every row that has one
    case $row in T|TS|pTS|pTS_ste|IR_T_S) extra+=(model@models.transcriber=transcriber_small) ;; esac
    # pTS: T's transcriber, frozen for the first fifth of the budget, then trained jointly
    case $row in pTS|pTS_ste) extra+=(task.pretrained.transcriber="$out/T/model.pt" task.freeze.transcriber.until_step=$((steps / 5))) ;; esac
    resume=(); [ -f "$run/checkpoints/last.ckpt" ] && resume=(ckpt_path="$run/checkpoints/last.ckpt")
    echo "== training $row ($steps steps)"
    # one validation, at the end (an epoch is the whole budget): the exported model is the last step's
    jointist-train experiment="$row" trainer="$trainer" data.root="$data" paths.output_dir="$run" trainer.max_steps="$steps" \
      data.batch_size=$batch data.train_examples_per_epoch=$((steps * batch)) trainer.val_check_interval="$steps" \
      trainer.max_time=null +trainer.enable_progress_bar=false "${extra[@]}" "${resume[@]}" > "$run.log" 2>&1 \
      || { echo "$row failed: see $run.log"; tail -5 "$run.log"; exit 1; }
  fi
  [ -f "$run/test/report.json" ] || [ -f "$run/test/auto/report.json" ] && continue
  echo "== scoring $row on $tracks test tracks"
  eval_args=(data_root="$data" split=test max_tracks="$tracks" progress=false bss_eval=false out="$run/test" "${decode[@]}")
  case $row in
    T) args=(ckpt="$run/model.pt") ;;
    TS|pTS|pTS_ste) args=(ckpt="$run/model.pt" separate=true) ;;
    S) args=(ckpt="$out/T/model.pt" separator="$run/model.pt" separate=true) ;;       # fusion none: reads no transcription
    S_gt) args=(ckpt="$out/T/model.pt" separator="$run/model.pt" separate=true separate_from=score) ;;
    IR_T_S) args=(ckpt="$run/model.pt" separate=true instruments=auto) ;;
    *) echo "unknown row $row"; exit 2 ;;
  esac
  jointist-evaluate "${eval_args[@]}" "${args[@]}" > "$run/test.log" 2>&1 || { echo "scoring $row failed: see $run/test.log"; exit 1; }
done
python3 - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
table = ["| row | flat note F1 | instrument-wise | multi-instrument (MT3) | source-wise SDR dB | SDRi dB |",
         "|---|---:|---:|---:|---:|---:|"]
rows = [(r, out / r / "test" / "report.json") for r in ["T", "TS", "pTS", "pTS_ste", "S", "S_gt"]]
rows += [("IR_T_S (true instruments)", out / "IR_T_S" / "test" / "gt" / "report.json"),
         ("IR_T_S (recognized)", out / "IR_T_S" / "test" / "auto" / "report.json")]
for row, path in rows:
    if not path.is_file():
        continue
    r = json.loads(path.read_text())
    sep = (r.get("separation") or {}).get("sourcewise_db", {})
    transcribes = row not in ("S", "S_gt")  # those two rows are scored with T's transcription
    cells = [r["flat"]["onset"], r["instrumentwise"]["onset"], r["multi_instrument"]["offset"]] if transcribes else [None] * 3
    cells += [sep.get("sdr"), sep.get("sdri")]
    table.append(f"| {row} | " + " | ".join("–" if v is None else f"{v:.3f}" for v in cells) + " |")
(out / "table.md").write_text("\n".join(table) + "\n")
print("\n".join(table))
PY
