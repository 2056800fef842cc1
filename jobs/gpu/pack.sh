#!/usr/bin/env bash
# Pack what a borrowed GPU machine needs to render the synthetic corpus and train (see jobs/gpu/README.md):
# wheels of the packages it lacks (Python 3.12), libfluidsynth with its libraries, and the training
# SoundFonts, losslessly compressed. Three folders, each under the 64 MiB a call may carry together
# with the working tree (15 MiB, most of it the shipped weights):
#   .gpu/  wheels, libraries, sf_GMbank, the SoundFont manifests   (first call, 20 MiB)
#   .gpu2/ FluidR3_GM part 1                                       (second call, while the machine is warm)
#   .gpu3/ FluidR3_GM part 2                                       (third call)
# Never carries TimGM6mb (our test timbre) or a MuseScore SoundFont (reserved for the final evaluation).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .git/info
for d in /.gpu/ /.gpu2/ /.gpu3/; do grep -qx "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude; done
rm -rf .gpu .gpu2 .gpu3 && mkdir -p .gpu/whl .gpu/sf .gpu2 .gpu3
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64 --platform any)
# the versions this machine runs; the GPU machine already has torch, Lightning, numpy, scipy, numba,
# scikit-learn, matplotlib, tensorboard, PyYAML, six, lazy-loader, typing-extensions and tqdm
for req in hydra-core==1.3.8 omegaconf==2.3.1 librosa==0.11.0 soxr==1.1.0 audioread==3.1.0 pooch==1.9.0 \
           decorator==5.2.1 platformdirs mir_eval==0.8.2 pretty_midi==0.2.11.post0 mido==1.3.3 \
           soundfile==0.14.0 cffi==2.0.0 pycparser pyfluidsynth==1.4.0 importlib_resources; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${plat[@]}" -d .gpu/whl "$req"
done
python3 -m pip wheel -q --no-deps -w .gpu/whl antlr4-python3-runtime==4.9.3   # an sdist on PyPI
lib=$(ldconfig -p | awk '/libfluidsynth\.so\.3 /{print $NF; exit}')
[ -n "$lib" ] || { echo "libfluidsynth3 is not installed (apt-get install libfluidsynth3)" >&2; exit 1; }
tmp=$(mktemp -d) && mkdir "$tmp/fslib" && cp -L "$lib" "$tmp/fslib/"
ldd "$lib" | awk '$3 ~ /^\// {print $1, $3}' \
  | grep -v -E '^(libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+)\.so' \
  | while read -r name path; do cp -L "$path" "$tmp/fslib/$name"; done
tar -C "$tmp" -cJf .gpu/fluidsynth-libs.tar.xz fslib && rm -rf "$tmp"
python3 jobs/gpu/sfpack.py pack /usr/share/sounds/sf2/sf_GMbank.sf2 .gpu/sf
python3 jobs/gpu/sfpack.py pack /usr/share/sounds/sf2/FluidR3_GM.sf2 .gpu/sf --parts 2
mv .gpu/sf/FluidR3_GM.sf2.flac.0 .gpu2/ && mv .gpu/sf/FluidR3_GM.sf2.flac.1 .gpu3/
du -sh .gpu .gpu2 .gpu3
