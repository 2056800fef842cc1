"""``jointist-transcribe``: transcribe a recording into multitrack MIDI, piano rolls and JSON."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig

from jointist.cli import CONFIG_PATH

if TYPE_CHECKING:
    from jointist.pipeline import Transcriber
    from jointist.results import Transcription

log = logging.getLogger("jointist.transcribe")


def run(cfg: DictConfig) -> dict[str, Path]:
    from jointist.cli.inference import build_transcriber, instrument_request
    from jointist.export import write_outputs

    transcriber = build_transcriber(cfg)
    instruments = instrument_request(cfg.instruments)
    separate = bool(cfg.get("separate"))
    if cfg.get("score"):
        result = separate_by_score(transcriber, cfg, instruments)
    else:
        result = transcriber.transcribe_file(cfg.audio, instruments=instruments, separate=separate,
                                             stems_dir=Path(cfg.out) / "stems" if separate else None,
                                             stems_sample_rate=cfg.get("stems_sample_rate", 16000))
    written = write_outputs(result, cfg.out, name=Path(cfg.audio).stem, plots=cfg.plots)
    if instruments == "auto":
        log.info("detected instruments: %s",
                 ", ".join(f"{name} (p={p:.2f})" for name, p in result.detected.items()) or "none")
    for track in result.tracks:
        log.info("%-22s %5d notes", track.instrument.name, len(track.notes))
    log.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written


def separate_by_score(transcriber: Transcriber, cfg: DictConfig, instruments: str | list) -> Transcription:
    """Score-informed separation: the MIDI file ``cfg.score`` (notes aligned with the recording)
    conditions the separator in place of a transcription; its instruments, or those of them named."""
    from jointist.audio.io import audio_sample_rate, load_audio
    from jointist.instruments import INSTRUMENTS, UnknownInstrumentError, parse_instruments
    from jointist.midi import read_midi

    score_path = Path(cfg.score)
    if not score_path.is_file():
        raise FileNotFoundError(f"score={score_path}: no such MIDI file")
    score = read_midi(score_path)
    if not score:
        raise UnknownInstrumentError(f"score={score_path} has no notes")
    if instruments not in ("all", "auto"):
        wanted = {i.index for i in parse_instruments(instruments)}
        missing = sorted(wanted - set(score))
        if missing:
            raise UnknownInstrumentError(
                f"score={score_path} has no {', '.join(INSTRUMENTS[c].name for c in missing)}; "
                f"it has {', '.join(INSTRUMENTS[c].name for c in score)}")
        score = {c: notes for c, notes in score.items() if c in wanted}
    audio = load_audio(cfg.audio, allow_silence=False)
    rate = cfg.get("stems_sample_rate", 16000)
    rate = int(audio_sample_rate(cfg.audio)) if rate == "input" else int(rate)
    return transcriber.separate_with_score(audio, score, source=str(cfg.audio), stems_dir=Path(cfg.out) / "stems",
                                           stems_sample_rate=rate)


@hydra.main(config_path=CONFIG_PATH, config_name="transcribe", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from jointist.audio.io import AudioError
    from jointist.instruments import UnknownInstrumentError
    from jointist.models.serialize import CheckpointError

    try:
        run(cfg)
    except (AudioError, FileNotFoundError, UnknownInstrumentError, CheckpointError) as err:
        log.error("%s", err)
        sys.exit(2)


if __name__ == "__main__":
    main()
