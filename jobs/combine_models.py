"""Put the models of several model files (or checkpoints) into one model file, one per role.

The shipped system is one file, ``jointist/weights/jointist.pt``, with a recognizer, a transcriber
and a separator, each with its own card (how and on what it was trained, its tuned thresholds):

    python jobs/combine_models.py jointist/weights/jointist.pt recognizer=rec.pt transcriber=tr_tuned.pt separator=sep.pt
"""

from __future__ import annotations

import argparse
import sys

from jointist.models.serialize import load_model, save_models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="the model file to write")
    parser.add_argument("roles", nargs="+", metavar="ROLE=FILE", help="a role and the file its model comes from")
    args = parser.parse_args(argv)
    models = {}
    for item in args.roles:
        role, sep, path = item.partition("=")
        if not sep:
            parser.error(f"{item!r}: expected ROLE=FILE")
        models[role] = load_model(path, role=role)
    path = save_models(models, args.out)
    for role, (_, card) in models.items():
        print(f"{role}: {card.class_name}, {card.trained_steps} steps; {card.training_data}")
    print(f"{path}: {', '.join(models)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
