"""MT3-compatible MIDI-like tokens for the seq2seq transcriber (pure Python + numpy: no torch here).

Layers, from generic to specific, each importing only the ones above it:

1. **Event codec** (:mod:`~jointist.tokens.codec`): ``(type, value)`` <-> class index, in MT3's block
   order shift, pitch, velocity, tie, program, drum (100 steps/s, shifts up to 10 s). Indices equal
   MT3's: 1388 classes with 1 velocity bin, 1514 with 127.
2. **Vocabulary** (:mod:`~jointist.tokens.vocabulary`): model id = codec index + 3 after PAD 0, EOS 1,
   UNK 2; id sets per event type for masks of banned tokens.
3. **Run-length encoding** (:mod:`~jointist.tokens.run_length`): shifts hold the absolute step offset
   from the segment start (consecutive shifts add up), repeated velocity/program tokens are dropped,
   and the timed decode loop counts invalid and dropped events.
4. **Note encoding with ties** (:mod:`~jointist.tokens.notes`): one segment of :class:`ProgramNote`\\ s
   -> ids: tie section (notes already sounding), ``tie``, onset/offset events, EOS.
5. **Decoding**: a state machine over dataclasses (:class:`DecodeState`) that never raises on bad
   model output; :func:`decode_segments` joins consecutive segments into notes.

Example::

    vocab = Vocabulary(mt3_codec(num_velocity_bins=1))
    ids = encode_notes(notes, vocab, start_s=2.048, end_s=4.096)
    decoded, stats = decode_segments([ids], [2.048], vocab)
"""

from jointist.tokens.codec import (
    DEFAULT_MAX_SHIFT_SECONDS,
    DEFAULT_STEPS_PER_SECOND,
    Codec,
    Event,
    EventRange,
    bin_to_velocity,
    mt3_codec,
    velocity_to_bin,
)
from jointist.tokens.notes import (
    DEFAULT_VELOCITY,
    DRUM_DURATION_S,
    MIN_NOTE_DURATION_S,
    DecodeState,
    DecodeStats,
    ProgramNote,
    apply_event,
    begin_segment,
    decode_segments,
    decode_tokens,
    encode_notes,
    flush,
)
from jointist.tokens.run_length import decode_events, remove_redundant_state_changes, run_length_encode_shifts
from jointist.tokens.vocabulary import (
    DECODED_INVALID,
    EOS_ID,
    MT3_EXTRA_IDS,
    PAD_ID,
    UNK_ID,
    Vocabulary,
    num_embeddings,
)

__all__ = [
    "DECODED_INVALID",
    "DEFAULT_MAX_SHIFT_SECONDS",
    "DEFAULT_STEPS_PER_SECOND",
    "DEFAULT_VELOCITY",
    "DRUM_DURATION_S",
    "EOS_ID",
    "MIN_NOTE_DURATION_S",
    "MT3_EXTRA_IDS",
    "PAD_ID",
    "UNK_ID",
    "Codec",
    "DecodeState",
    "DecodeStats",
    "Event",
    "EventRange",
    "ProgramNote",
    "Vocabulary",
    "apply_event",
    "begin_segment",
    "bin_to_velocity",
    "decode_events",
    "decode_segments",
    "decode_tokens",
    "encode_notes",
    "flush",
    "mt3_codec",
    "num_embeddings",
    "remove_redundant_state_changes",
    "run_length_encode_shifts",
    "velocity_to_bin",
]
