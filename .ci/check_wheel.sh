#!/usr/bin/env bash
# The package as a user installs it: build the wheel, install it non-editable into a fresh venv
# (reusing this machine's torch and other dependencies through --system-site-packages), then run
# the console scripts from a folder outside the repository.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" "$repo" >/dev/null
python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "$work"/dist/jointist-*.whl
cd "$work"
"$work/venv/bin/python" - <<'PY'
import sys, jointist, jointist.cli
assert jointist.__file__.startswith(sys.prefix), f"jointist imported from {jointist.__file__}, not the venv"
assert jointist.cli.CONF_DIR.startswith(sys.prefix), jointist.cli.CONF_DIR
import numpy as np, soundfile as sf
t = np.arange(5 * 16000) / 16000
sf.write("clip.wav", 0.3 * np.sin(2 * np.pi * 261.63 * t) * (t % 1.0 < 0.5), 16000)
PY
bin="$work/venv/bin"
"$bin/jointist-transcribe" audio=clip.wav 'instruments=[piano]' out=out progress=false plots=false
test -s out/clip.mid && test -s out/clip.json
"$bin/jointist-train" --cfg job experiment=transcriber_synth > /dev/null
"$bin/jointist-synth" root=corpus num_tracks=3 duration_s=4 workers=1 progress=false stats=false \
    'splits={train: 0.34, validation: 0.33, test: 0.33}' 'soundfonts.test=[FluidR3_GM.sf2]'
"$bin/jointist-train" data.root=corpus model=transcriber_tiny data.segment_s=1.0 data.batch_size=2 \
    data.num_workers=0 +trainer.fast_dev_run=true paths.output_dir=run > train.log 2>&1 \
    || { cat train.log; exit 1; }
echo "wheel check: jointist-transcribe, jointist-train --cfg job, jointist-synth and jointist-train fast_dev_run ran from $work"
