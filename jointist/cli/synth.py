"""``jointist-synth``: render a synthetic Slakh2100-format corpus and print its statistics."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig, OmegaConf

from jointist.cli import CONFIG_PATH

if TYPE_CHECKING:
    from jointist.data.synthetic import CorpusSpec

log = logging.getLogger("jointist.synth")


def corpus_spec(cfg: DictConfig) -> CorpusSpec:
    """The :class:`~jointist.data.synthetic.CorpusSpec` of the command line.

    Raises:
        ValueError: CorpusSpec's own check, naming the setting (``num_tracks=0``, ``duration_s=-1``).
    """
    from jointist.data.synthetic import CorpusSpec
    from jointist.data.timbre import TimbreSpec

    timbre = None
    if cfg.get("timbre") is not None:
        settings = OmegaConf.to_container(cfg.timbre)
        if not isinstance(settings, dict):
            raise ValueError(f"timbre must be a mapping of settings or null, got {settings!r}")
        known = set(TimbreSpec.__dataclass_fields__)
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(f"unknown timbre setting(s) {', '.join(map(str, unknown))}; valid: {', '.join(sorted(known))}")
        spec = TimbreSpec(**settings)  # type: ignore[arg-type]
        timbre = spec if spec.splits else None  # no split varied: a corpus like one made before timbre variation
    return CorpusSpec(
        num_tracks=cfg.num_tracks,
        duration_s=float(cfg.duration_s),
        seed=cfg.seed,
        splits=dict(OmegaConf.to_container(cfg.splits)),  # type: ignore[arg-type]
        soundfonts={k: list(v) for k, v in cfg.soundfonts.items()},
        styles={k: {str(n): float(w) for n, w in v.items()} for k, v in cfg.get("styles", {}).items()},
        sample_rate=cfg.sample_rate,
        min_stems=cfg.min_stems,
        max_stems=cfg.max_stems,
        tempo_bpm_range=(float(cfg.tempo_bpm_range[0]), float(cfg.tempo_bpm_range[1])),
        mix_peak=float(cfg.mix_peak),
        ride_share=float(cfg.get("ride_share", 0.0)),
        timbre=timbre,
    )


@hydra.main(config_path=CONFIG_PATH, config_name="synth", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from jointist.data.render import ReservedSoundFontError
    from jointist.data.stats import corpus_stats, format_stats
    from jointist.data.synthetic import render_corpus

    try:
        spec = corpus_spec(cfg)
    except ValueError as err:  # CorpusSpec's checks name the setting
        log.error("%s", err)
        sys.exit(2)
    try:
        results = render_corpus(cfg.root, spec, workers=cfg.workers, overwrite=cfg.overwrite, progress=cfg.progress)
    except (ReservedSoundFontError, FileNotFoundError) as err:  # a reserved or missing SoundFont, before any track
        log.error("%s", err)
        sys.exit(2)
    made = sum(not r.skipped for r in results)
    log.info("%d tracks in %s (%d rendered now, %d already there)", len(results), cfg.root, made, len(results) - made)
    if cfg.stats:
        splits = list(spec.splits)
        print(format_stats(corpus_stats(cfg.root, splits=splits), corpus_stats(cfg.root, splits=splits, by_style=True)))


if __name__ == "__main__":
    main()
