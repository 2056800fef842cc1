"""The inference settings shared by ``jointist-transcribe`` and ``jointist-evaluate`` (``conf/inference``)."""

from __future__ import annotations

import dataclasses

from omegaconf import DictConfig, ListConfig, OmegaConf

from jointist.pipeline import HEADS, INPUT_PEAK, TokenTranscriber, Transcriber, check_input_peak


class InferenceSettingError(ValueError):
    """An ``inference`` setting that cannot work (``batch_size=0``, ``hop_s`` over ``window_s``,
    ``device=cuda`` without CUDA); the message names it. Found before any model is loaded."""


def check_inference_settings(cfg: DictConfig) -> None:
    """Check the ``inference`` keys of a command's config without loading anything.

    Raises:
        InferenceSettingError: naming the setting.
    """
    for key in ("batch_size", "instruments_per_pass"):
        value = cfg.get(key)
        if key in cfg and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InferenceSettingError(f"{key}={value}: give a whole number >= 1")
    window_s, hop_s = cfg.get("window_s"), cfg.get("hop_s")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (window_s, hop_s)):
        raise InferenceSettingError(f"window_s={window_s}, hop_s={hop_s}: give numbers of seconds")
    if not 0 < hop_s <= window_s:  # type: ignore[operator]
        raise InferenceSettingError(
            f"hop_s={hop_s} with window_s={window_s}: need 0 < hop_s <= window_s (windows may overlap, not leave gaps)")
    from jointist.audio.chunker import Chunker

    try:
        Chunker(window_s=float(window_s), hop_s=float(hop_s))  # type: ignore[arg-type]
    except ValueError as err:
        raise InferenceSettingError(str(err)) from err
    try:
        check_input_peak(cfg.get("input_peak", INPUT_PEAK))
    except ValueError as err:
        raise InferenceSettingError(str(err)) from err
    head = cfg.get("head", "onsets_frames")
    if head not in HEADS:
        raise InferenceSettingError(f"head={head}: choose one of {', '.join(HEADS)}")
    if head == "seq2seq" and cfg.get("tune_decode"):
        raise InferenceSettingError("tune_decode=true tunes the onset and frame thresholds of head=onsets_frames; "
                                    "the seq2seq head has none")
    max_tokens = cfg.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 2):
        raise InferenceSettingError(f"max_tokens={max_tokens}: give a whole number >= 2 (tokens per segment)")
    device = str(cfg.get("device", "cpu"))
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise InferenceSettingError(f"device={device}: CUDA is not available on this machine; use device=cpu")


def build_transcriber(cfg: DictConfig) -> Transcriber | TokenTranscriber:
    """The pipeline of the chosen ``head`` (:class:`~jointist.pipeline.Transcriber` for onsets and
    frames, :class:`~jointist.pipeline.TokenTranscriber` for tokens) from the ``inference`` keys of a
    command's config."""
    head = str(cfg.get("head", "onsets_frames"))
    common = dict(device=cfg.device, batch_size=cfg.batch_size, instruments_per_pass=cfg.instruments_per_pass,
                  window_s=cfg.window_s, hop_s=cfg.hop_s, progress=cfg.progress, recognizer=cfg.recognizer,
                  separator=cfg.get("separator"), input_peak=check_input_peak(cfg.get("input_peak", INPUT_PEAK)))
    if head == "seq2seq":
        return TokenTranscriber(cfg.ckpt, max_tokens=cfg.get("max_tokens"), **common)
    transcriber = Transcriber(cfg.ckpt, verify=bool(cfg.get("verify", True)),
                              choose_ends=bool(cfg.get("choose_ends", True)), drums=bool(cfg.get("drum_model", True)),
                              **common)
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
