"""``jointist-evaluate``: instrument-wise, piece-wise, flat and multi-instrument F1 of a transcriber."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from jointist.cli import CONFIG_PATH

log = logging.getLogger("jointist.evaluate")


def run(cfg: DictConfig) -> dict:
    from jointist.cli.inference import build_transcriber, check_inference_settings, instrument_request
    from jointist.evaluation import evaluate_recognizer, evaluate_tracks, write_recognition_report, write_report

    check_inference_settings(cfg)
    transcriber = build_transcriber(cfg)
    transcriber.progress = False  # one bar over tracks instead
    instruments = instrument_request(cfg.instruments)
    meta = {"config": OmegaConf.to_container(cfg, resolve=True), "model_file": str(transcriber.model_path)}
    out: dict = {}
    if cfg.get("tune_decode"):
        import dataclasses

        from jointist.evaluation import tune_decode
        from jointist.models.serialize import load_models, save_models
        from jointist.pipeline import Transcriber
        from jointist.postprocess import DecodeConfig

        assert isinstance(transcriber, Transcriber)  # check_inference_settings refused head=seq2seq
        objective = cfg.get("tune_objective", "balanced")
        choices: dict = {}
        decode, scores = tune_decode(transcriber, cfg.data_root, cfg.split, max_tracks=cfg.max_tracks,
                                     objective=objective, per_class=bool(cfg.get("tune_per_class")),
                                     shared=bool(cfg.get("tune_shared", True)),
                                     min_pieces=int(cfg.get("tune_min_pieces", 5)), progress=cfg.progress, choices=choices,
                                     cache=cfg.get("tune_cache"))
        for (on_t, fr_t, ratio), f1 in sorted(scores.items()):
            log.info("onset %.2f frame %.2f shared-onset ratio %.1f: %s note F1 %.4f", on_t, fr_t, ratio, objective, f1)
        for name, choice in choices.items():
            log.info("%s (%d songs): onset %.2f frame %.2f ratio %.1f -> %s note F1 %.4f with it alone changed "
                     "(shared settings %.4f)", name, choice.pieces, choice.onset, choice.frame, choice.ratio,
                     objective, choice.score, choice.shared_score)
        models = load_models(transcriber.model_path)
        role = "transcriber" if transcriber.verifier is None else "verifier"  # whose onsets the thresholds are for
        model, card = models[role]
        models[role] = (model, card.replace(decode=decode, notes=f"{card.notes} decode tuned on {cfg.split}".strip()))
        tuned = save_models(models, Path(cfg.out) / "model_tuned.pt")
        log.info("best: %s -> %s", decode, tuned)
        known = {f.name for f in dataclasses.fields(DecodeConfig)}
        transcriber.decode = DecodeConfig(**{k: v for k, v in decode.items() if k in known})  # type: ignore[arg-type]
        out["tuned_model"] = tuned
    runs = [("auto", "auto"), ("gt", "gt")] if instruments == "auto" else [(None, instruments)]
    if instruments == "auto":
        reports = evaluate_recognizer(transcriber.recognizer, cfg.data_root, cfg.split, max_tracks=cfg.max_tracks,
                                      progress=cfg.progress)
        out["recognition"] = reports
        write_recognition_report(reports, Path(cfg.out) / "recognition")
        for level, recognition in reports.items():
            print(f"### recognition ({level})\n\n{recognition.to_markdown()}\n")
    for name, which in runs:
        split_scores = evaluate_tracks(transcriber, cfg.data_root, cfg.split, instruments=which, max_tracks=cfg.max_tracks,
                                 progress=cfg.progress, separate=bool(cfg.get("separate")),
                                 bss_eval=bool(cfg.get("bss_eval", True)),
                                 separate_from=str(cfg.get("separate_from", "transcription")))
        report = split_scores.transcription
        folder = Path(cfg.out) / name if name else Path(cfg.out)
        by_style = split_scores.by_style()
        paths = write_report(report, folder, meta={**meta, "instruments": which,
                                                    "separate_from": cfg.get("separate_from", "transcription")},
                             separation=split_scores.separation, by_style=by_style if len(by_style) > 1 else None)
        title = {"auto": "instruments recognized", "gt": "true instruments"}.get(name or "", str(which))
        print(f"### transcription ({title})\n\n{report.to_markdown()}\n")
        if len(by_style) > 1:
            from jointist.evaluation import style_table

            print(f"### per style ({title})\n\n{style_table(by_style)}\n")
        if split_scores.separation is not None:
            print(f"### separation ({title})\n\n{split_scores.separation.to_markdown()}\n")
            out[f"{name or 'transcription'}_separation"] = split_scores.separation
        log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
        out[name or "transcription"] = report
    return out


@hydra.main(config_path=CONFIG_PATH, config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from jointist.cli.inference import InferenceSettingError
    from jointist.data.slakh import DatasetError
    from jointist.instruments import UnknownInstrumentError
    from jointist.models.serialize import CheckpointError
    from jointist.postprocess import DecodeConfigError

    try:
        run(cfg)
    except (DatasetError, CheckpointError, FileNotFoundError, UnknownInstrumentError, DecodeConfigError,
            InferenceSettingError) as err:
        log.error("%s", err)
        sys.exit(2)


if __name__ == "__main__":
    main()
