#!/usr/bin/env bash
# A separate environment for the basic-pitch baseline (PyPI 0.4.0 ships its ONNX weights).
# It sees the system's numpy/librosa/pretty_midi but installs basic-pitch without its TensorFlow pin.
#   bash jobs/setup_basic_pitch.sh [VENV_DIR]     (default: .venv-basic-pitch)
set -euo pipefail
venv="${1:-.venv-basic-pitch}"
python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps "basic-pitch==0.4.0"
"$venv/bin/pip" install -q --disable-pip-version-check onnxruntime "resampy<0.4.3" scikit-learn
"$venv/bin/python" -c "import basic_pitch, onnxruntime; print('basic-pitch ready:', basic_pitch.__file__)"
