"""The inference settings shared by ``jointist-transcribe`` and ``jointist-evaluate`` (``conf/inference``)."""

from __future__ import annotations

import dataclasses

from omegaconf import DictConfig, ListConfig, OmegaConf

from jointist.pipeline import Transcriber


def build_transcriber(cfg: DictConfig) -> Transcriber:
    """A :class:`~jointist.pipeline.Transcriber` from the ``inference`` keys of a command's config."""
    transcriber = Transcriber(
        cfg.ckpt, device=cfg.device, batch_size=cfg.batch_size, instruments_per_pass=cfg.instruments_per_pass,
        window_s=cfg.window_s, hop_s=cfg.hop_s, progress=cfg.progress, recognizer=cfg.recognizer,
        separator=cfg.get("separator"),
    )
    decode = OmegaConf.to_container(cfg.decode)
    overrides = {str(k): v for k, v in decode.items() if v is not None} if isinstance(decode, dict) else {}
    if overrides:
        transcriber.decode = dataclasses.replace(transcriber.decode, **overrides)
    return transcriber


def instrument_request(value: object) -> str | list[str | int]:
    """``instruments=`` as given: a word (``all``, ``auto``, ``gt``) or a list of names; any other
    single value (``instruments=5``, ``instruments=true``) is a list of one, which
    :func:`~jointist.instruments.parse_instruments` accepts or refuses with a clear message."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, ListConfig)):
        return list(value)
    return [value]  # type: ignore[list-item]
