"""Model vocabulary: codec indices shifted past three special ids (MT3's ``GenericTokenVocabulary``).

Model id = codec index + 3, with PAD 0, EOS 1 and UNK 2 before them. Optional ``extra_ids`` reserve ids
after the regular ones (MT3 builds its vocabulary with T5's 100 extra ids, which it never emits; they
only widen the embedding). Decoding maps ids back to codec indices: it stops at the first EOS, skips
PAD, and turns UNK, extra and out-of-range ids into :data:`DECODED_INVALID`, which the event decoder
counts as invalid.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from jointist.tokens.codec import Codec, Event

__all__ = [
    "DECODED_INVALID",
    "EOS_ID",
    "MT3_EXTRA_IDS",
    "NUM_SPECIAL_IDS",
    "PAD_ID",
    "UNK_ID",
    "Vocabulary",
    "num_embeddings",
]

PAD_ID = 0
EOS_ID = 1
UNK_ID = 2
NUM_SPECIAL_IDS = 3

DECODED_INVALID = -2
"""What :meth:`Vocabulary.decode` yields for an id that is no codec index (MT3's ``DECODED_INVALID_ID``)."""

MT3_EXTRA_IDS = 100
"""Extra ids of MT3's released vocabularies (T5's default); pass ``extra_ids=MT3_EXTRA_IDS`` to get
MT3's ``vocab_size`` (num_classes + 103) and embedding count."""


class Vocabulary:
    """Codec indices <-> model token ids.

    Args:
        codec: the event codec.
        extra_ids: reserved ids after the regular ones (never produced by :meth:`encode`).
    """

    PAD = PAD_ID
    EOS = EOS_ID
    UNK = UNK_ID

    def __init__(self, codec: Codec, *, extra_ids: int = 0) -> None:
        if extra_ids < 0:
            raise ValueError(f"extra_ids must be >= 0, got {extra_ids}")
        self.codec = codec
        self.extra_ids = int(extra_ids)

    @property
    def num_special_ids(self) -> int:
        return NUM_SPECIAL_IDS

    @property
    def num_regular_ids(self) -> int:
        """Ids that stand for codec indices (= ``codec.num_classes``)."""
        return self.codec.num_classes

    @property
    def vocab_size(self) -> int:
        """All ids: 3 special + ``codec.num_classes`` regular + ``extra_ids``."""
        return NUM_SPECIAL_IDS + self.codec.num_classes + self.extra_ids

    @property
    def num_embeddings(self) -> int:
        """``vocab_size`` rounded up to a multiple of 128, as MT3 sizes its embedding and logits."""
        return num_embeddings(self.vocab_size)

    def encode(self, indices: Iterable[int]) -> list[int]:
        """Codec indices -> model ids (no EOS appended).

        Raises:
            ValueError: an index outside ``[0, codec.num_classes)``.
        """
        ids = []
        for index in indices:
            index = int(index)
            if not 0 <= index < self.codec.num_classes:
                raise ValueError(f"codec index {index} is outside [0, {self.codec.num_classes})")
            ids.append(index + NUM_SPECIAL_IDS)
        return ids

    def decode(self, ids: Iterable[int]) -> list[int]:
        """Model ids -> codec indices, up to (not including) the first EOS.

        PAD ids are skipped; UNK, extra and out-of-range ids become :data:`DECODED_INVALID`.
        """
        indices = []
        regular_end = NUM_SPECIAL_IDS + self.codec.num_classes
        for token in ids:
            token = int(token)
            if token == EOS_ID:
                break
            if token == PAD_ID:
                continue
            indices.append(token - NUM_SPECIAL_IDS if NUM_SPECIAL_IDS <= token < regular_end else DECODED_INVALID)
        return indices

    def token_id(self, event_type: str, value: int) -> int:
        """The model id of one event (``codec.encode + 3``)."""
        return self.codec.encode(event_type, value) + NUM_SPECIAL_IDS

    def event(self, token_id: int) -> Event:
        """The event of a regular model id.

        Raises:
            ValueError: a special, extra or out-of-range id.
        """
        token_id = int(token_id)
        if not NUM_SPECIAL_IDS <= token_id < NUM_SPECIAL_IDS + self.codec.num_classes:
            raise ValueError(f"token id {token_id} is not an event id of this vocabulary")
        return self.codec.decode(token_id - NUM_SPECIAL_IDS)

    def id_range(self, event_type: str) -> tuple[int, int]:
        """``(first_id, last_id)`` of an event type's model ids, both inclusive."""
        first, last = self.codec.event_range(event_type)
        return first + NUM_SPECIAL_IDS, last + NUM_SPECIAL_IDS

    def token_ids(self, event_type: str, values: Iterable[int] | None = None) -> frozenset[int]:
        """Model ids of an event type, for all its values or just ``values``.

        Meant for masks of banned tokens: e.g. the program ids of every program except the requested
        ones, ``vocab.program_ids() - vocab.program_ids(requested)``.
        """
        if values is None:
            first, last = self.id_range(event_type)
            return frozenset(range(first, last + 1))
        return frozenset(self.token_id(event_type, v) for v in values)

    def program_ids(self, programs: Iterable[int] | None = None) -> frozenset[int]:
        """Model ids of program events (all 128, or just those of ``programs``)."""
        return self.token_ids("program", programs)

    def drum_ids(self, pitches: Iterable[int] | None = None) -> frozenset[int]:
        """Model ids of drum events (all 128 drum pitches, or just ``pitches``)."""
        return self.token_ids("drum", pitches)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.codec == other.codec and self.extra_ids == other.extra_ids

    def __hash__(self) -> int:
        return hash((self.codec, self.extra_ids))

    def __repr__(self) -> str:
        return f"Vocabulary(vocab_size={self.vocab_size}, extra_ids={self.extra_ids}, codec={self.codec!r})"


def num_embeddings(vocab_size: int, *, multiple: int = 128) -> int:
    """``vocab_size`` rounded up to a multiple of ``multiple`` (MT3's ``num_embeddings``, for TPU tiling)."""
    return multiple * math.ceil(vocab_size / multiple)
