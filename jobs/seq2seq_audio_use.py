"""Does a seq2seq model read the audio? Its teacher-forced loss on validation windows with the right
audio, with another window's audio (the batch rolled by one) and with silence.

A model that has learned to align tokens with the audio loses far more without the right audio; one
that is still a language model of tokens loses about the same.

    python jobs/seq2seq_audio_use.py MODEL.pt --data-root data/styles_s2s --batches 6
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a model file with a seq2seq head (model.pt of a run)")
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    from hydra import compose, initialize_config_module
    from hydra.utils import instantiate

    from jointist.cli.train import build_models

    torch.set_num_threads(1)
    with initialize_config_module("jointist.conf", version_base="1.3"):
        cfg = compose("train", overrides=["experiment=seq2seq_synth", f"data.root={args.data_root}",
                                          f"data.batch_size={args.batch_size}", "data.num_workers=0",
                                          f"+task.pretrained={{seq2seq:{args.model}}}"])
    plain = {"_convert_": "object"}
    datamodule = instantiate(cfg.data, **plain)
    datamodule.setup("fit")
    task = instantiate(cfg.task, models=build_models(cfg), **plain).eval()
    rows: dict[str, list[tuple[float, float]]] = {"right audio": [], "another window's audio": [], "silence": []}
    with torch.no_grad():
        for k, batch in enumerate(datamodule.val_dataloader()):
            if k == args.batches:
                break
            tokens, _ = task.token_batch(batch, None)
            for name, audio in zip(rows, (batch.mix, batch.mix.roll(1, 0), torch.zeros_like(batch.mix))):
                loss, accuracy = task.loss_and_accuracy(task.logits(audio, tokens), tokens.targets)
                rows[name].append((float(loss), float(accuracy)))
    for name, values in rows.items():
        loss, accuracy = np.mean(values, axis=0)
        print(f"{name:>24}: loss {loss:.3f}, token accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
