#!/usr/bin/env bash
# On the borrowed GPU machine (no package index, no FluidSynth): install what jobs/gpu/pack.sh carried.
# Idempotent: a second call on the same machine only adds what is new (e.g. the second SoundFont part).
#   bash jobs/gpu/setup.sh            # from the repository root; writes $JOINTIST_GPU_HOME/env.sh
set -euo pipefail
home="${JOINTIST_GPU_HOME:-/root/jointist-gpu}"
mkdir -p "$home/sf" "$home/lib"
py=python3
if [ ! -f "$home/site/.done" ]; then
  # the carried wheels and jointist itself (its conf/ becomes jointist.conf, built with the machine's
  # setuptools), in one call: a second --target install would skip the bin/ folder the first one made
  $py -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir \
    --target "$home/site" .gpu/whl/*.whl .
  touch "$home/site/.done"
fi
if [ ! -f "$home/lib/.done" ]; then
  # libfluidsynth and the libraries it needs, where the machine lacks them (its own copies win)
  tmp=$(mktemp -d); tar -xJf .gpu/fluidsynth-libs.tar.xz -C "$tmp"
  for f in "$tmp"/fslib/*; do
    n=$(basename "$f")
    ldconfig -p | grep -q "^[[:space:]]$n " || cp "$f" "$home/lib/"
  done
  echo "$home/lib" > /etc/ld.so.conf.d/jointist-fluidsynth.conf && ldconfig
  touch "$home/lib/.done"
fi
export PYTHONPATH="$home/site"
# The machine keeps files outside the repository between calls, but not the carried folders of an
# earlier call: SoundFont parts are kept in $home/parts until all of them have come.
mkdir -p "$home/parts"
for d in .gpu/sf .gpu2 .gpu3; do [ -d "$d" ] && find "$d" -maxdepth 1 -type f \( -name '*.json' -o -name '*.flac.*' \) -exec cp {} "$home/parts/" \;; done
for manifest in "$home"/parts/*.json; do
  name=$(basename "$manifest" .json)
  [ -f "$home/sf/$name" ] && continue
  parts=$($py -c "import json,sys; print(' '.join(json.load(open(sys.argv[1]))['parts']))" "$manifest")
  missing=0; for p in $parts; do [ -f "$home/parts/$p" ] || missing=1; done
  if [ $missing = 1 ]; then echo "$name: not all parts carried yet"; continue; fi
  $py jobs/gpu/sfpack.py unpack "$manifest" "$home/parts" --to "$home/sf" && rm -f "$home/parts/$name".*
done
cat > "$home/env.sh" <<ENV
export PYTHONPATH="$home/site"
export PATH="$home/site/bin:\$PATH"
export JOINTIST_SOUNDFONT_PATH="$home/sf"
export PYTHONUNBUFFERED=1
ENV
. "$home/env.sh"
ls "$home/sf"
$py -c "import fluidsynth, hydra, librosa, pretty_midi, mir_eval, jointist, torch; print('ready: torch', torch.__version__, 'cuda', torch.cuda.is_available())"
