"""Turn a training checkpoint brought back from the GPU machine into a model file for inference.

``jointist-train`` exports ``model.pt`` when a run ends; a run cut off by the machine's time limit
leaves only checkpoints. This writes the same file from one of them, with the steps behind it.

    python jobs/gpu/export.py runs/separator/step3750-sdr2.79.ckpt separator.pt \
        --training-data "gpu-synth seed=1, 1620 x 30 s (SlakhDataModule)"
"""

from __future__ import annotations

import argparse
import sys

from jointist.models.serialize import load_models, read_model_file, save_models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("model_file")
    parser.add_argument("--training-data", required=True, help="a short description for the model card")
    parser.add_argument("--notes", default="", help="free text for the model card (how it was trained)")
    args = parser.parse_args(argv)
    steps = int(read_model_file(args.checkpoint)["global_step"])
    models = {role: (model, card.replace(trained_steps=steps, training_data=args.training_data,
                                          notes=args.notes or card.notes))
              for role, (model, card) in load_models(args.checkpoint).items()}
    path = save_models(models, args.model_file)
    print(f"{path}: {', '.join(models)} at step {steps}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
