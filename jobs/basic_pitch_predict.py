"""Run basic-pitch on audio files and write one MIDI per file plus timings (run with its own Python).

    .venv-basic-pitch/bin/python jobs/basic_pitch_predict.py OUT_DIR AUDIO [AUDIO ...]
"""

import json
import sys
import time
from pathlib import Path


def main() -> None:
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import Model, predict

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    model = Model(ICASSP_2022_MODEL_PATH)  # the ONNX model when onnxruntime is installed
    timings = {}
    for audio in sys.argv[2:]:
        start = time.perf_counter()
        _, midi, _ = predict(audio, model)
        timings[audio] = time.perf_counter() - start
        midi.write(str(out / (Path(audio).parent.name + ".mid")))
    (out / "timings.json").write_text(json.dumps(timings, indent=1))


if __name__ == "__main__":
    main()
