"""Event codec and vocabulary: sizes and literal indices derived by hand from MT3's definitions.

MT3's blocks, in order: shift 0..1000 (1001 classes), pitch 0..127 (128), velocity 0..bins, tie 0 (1),
program 0..127 (128), drum 0..127 (128). With 1 bin: 1001 + 128 + 2 + 1 + 128 + 128 = 1388; with 127
bins: 1001 + 128 + 128 + 1 + 128 + 128 = 1514. Model ids are the indices + 3.
"""

from __future__ import annotations

import numpy as np
import pytest

from jointist.tokens import (
    DECODED_INVALID,
    MT3_EXTRA_IDS,
    Codec,
    Event,
    EventRange,
    Vocabulary,
    bin_to_velocity,
    mt3_codec,
    num_embeddings,
    velocity_to_bin,
)

# (event type, value) -> index, with 1 velocity bin
ONE_BIN = {
    ("shift", 0): 0,
    ("shift", 1): 1,
    ("shift", 1000): 1000,
    ("pitch", 0): 1001,
    ("pitch", 60): 1061,
    ("pitch", 127): 1128,
    ("velocity", 0): 1129,
    ("velocity", 1): 1130,
    ("tie", 0): 1131,
    ("program", 0): 1132,
    ("program", 33): 1165,
    ("program", 127): 1259,
    ("drum", 0): 1260,
    ("drum", 36): 1296,
    ("drum", 127): 1387,
}

# the same with 127 velocity bins: everything after velocity moves by 126
BINS_127 = {
    ("shift", 0): 0,
    ("shift", 1000): 1000,
    ("pitch", 0): 1001,
    ("pitch", 60): 1061,
    ("pitch", 127): 1128,
    ("velocity", 0): 1129,
    ("velocity", 1): 1130,
    ("velocity", 100): 1229,
    ("velocity", 127): 1256,
    ("tie", 0): 1257,
    ("program", 0): 1258,
    ("program", 127): 1385,
    ("drum", 0): 1386,
    ("drum", 36): 1422,
    ("drum", 127): 1513,
}


def test_sizes():
    assert mt3_codec(1).num_classes == 1388
    assert mt3_codec(127).num_classes == 1514
    assert mt3_codec().num_classes == 1388
    codec = mt3_codec(1)
    assert codec.steps_per_second == 100
    assert codec.max_shift_steps == 1000
    assert codec.num_velocity_bins == 1
    assert mt3_codec(127).num_velocity_bins == 127
    assert codec.event_types == ("shift", "pitch", "velocity", "tie", "program", "drum")


@pytest.mark.parametrize(("bins", "table"), [(1, ONE_BIN), (127, BINS_127)])
def test_literal_indices_and_ids(bins, table):
    codec = mt3_codec(bins)
    vocab = Vocabulary(codec)
    for (event_type, value), index in table.items():
        assert codec.encode(event_type, value) == index
        assert codec.decode(index) == Event(event_type, value)
        assert codec.decode(index) == (event_type, value)
        assert vocab.token_id(event_type, value) == index + 3
        assert vocab.event(index + 3) == (event_type, value)


def test_event_ranges():
    codec = mt3_codec(1)
    assert codec.event_range("shift") == (0, 1000)
    assert codec.event_range("pitch") == (1001, 1128)
    assert codec.event_range("velocity") == (1129, 1130)
    assert codec.event_range("tie") == (1131, 1131)
    assert codec.event_range("program") == (1132, 1259)
    assert codec.event_range("drum") == (1260, 1387)
    codec = mt3_codec(127)
    assert codec.event_range("velocity") == (1129, 1256)
    assert codec.event_range("drum") == (1386, 1513)
    vocab = Vocabulary(mt3_codec(1))
    assert vocab.id_range("program") == (1135, 1262)
    assert vocab.id_range("shift") == (3, 1003)


def test_every_index_round_trips():
    codec = mt3_codec(127)
    for index in range(codec.num_classes):
        assert codec.encode(*codec.decode(index)) == index
    assert codec.decode(np.int64(1061)) == ("pitch", 60)


def test_codec_errors():
    codec = mt3_codec(1)
    with pytest.raises(ValueError, match="unknown event type 'velocityy'"):
        codec.encode("velocityy", 1)
    with pytest.raises(ValueError, match="unknown event type"):
        codec.event_range("note")
    with pytest.raises(ValueError, match=r"velocity value 2 is outside \[0, 1\]"):
        codec.encode("velocity", 2)
    with pytest.raises(ValueError, match="outside"):
        codec.encode("shift", 1001)
    with pytest.raises(ValueError, match="outside"):
        codec.encode("pitch", -1)
    with pytest.raises(ValueError, match="integer"):
        codec.encode("pitch", 60.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"event index 1388 is outside \[0, 1388\)"):
        codec.decode(1388)
    with pytest.raises(ValueError, match="outside"):
        codec.decode(-1)
    with pytest.raises(ValueError, match="num_velocity_bins"):
        mt3_codec(0)
    with pytest.raises(ValueError, match="unique"):
        Codec(max_shift_steps=10, steps_per_second=100, event_ranges=[EventRange("shift", 0, 3)])


def test_velocity_bins_like_mt3():
    # MT3's vocabularies_test: 0 <-> 0, and bin -> velocity -> bin is the identity
    for bins in (1, 127):
        assert velocity_to_bin(0, bins) == 0
        assert bin_to_velocity(0, bins) == 0
    assert velocity_to_bin(bin_to_velocity(1, 1), 1) == 1
    for velocity_bin in range(1, 128):
        assert velocity_to_bin(bin_to_velocity(velocity_bin, 127), 127) == velocity_bin
    for bins in (2, 7, 16, 32):
        for velocity_bin in range(bins + 1):
            assert velocity_to_bin(bin_to_velocity(velocity_bin, bins), bins) == velocity_bin
    # by hand: ceil(bins * v / 127) and floor(127 * b / bins)
    assert bin_to_velocity(1, 1) == 127
    assert velocity_to_bin(1, 1) == velocity_to_bin(127, 1) == 1
    assert velocity_to_bin(100, 127) == 100
    assert velocity_to_bin(100, 16) == 13  # ceil(12.6)
    assert velocity_to_bin(7, 16) == 1  # ceil(0.88)
    assert velocity_to_bin(8, 16) == 2  # ceil(1.008)
    assert bin_to_velocity(13, 16) == 103  # floor(103.19)
    with pytest.raises(ValueError):
        velocity_to_bin(128, 127)
    with pytest.raises(ValueError):
        bin_to_velocity(2, 1)


def test_vocabulary_sizes():
    vocab = Vocabulary(mt3_codec(1))
    assert (vocab.PAD, vocab.EOS, vocab.UNK) == (0, 1, 2)
    assert vocab.vocab_size == 1391
    assert vocab.num_embeddings == 1408
    assert Vocabulary(mt3_codec(127)).vocab_size == 1517
    # MT3's released vocabularies carry T5's 100 extra ids: 1491 / 1617 ids, 1536 / 1664 embeddings
    assert MT3_EXTRA_IDS == 100
    assert Vocabulary(mt3_codec(1), extra_ids=MT3_EXTRA_IDS).vocab_size == 1491
    assert Vocabulary(mt3_codec(1), extra_ids=MT3_EXTRA_IDS).num_embeddings == 1536
    assert Vocabulary(mt3_codec(127), extra_ids=MT3_EXTRA_IDS).num_embeddings == 1664
    assert num_embeddings(1408) == 1408
    assert num_embeddings(1409) == 1536


def test_vocabulary_encode_decode():
    vocab = Vocabulary(mt3_codec(1))
    assert vocab.encode([0, 1061, 1387]) == [3, 1064, 1390]
    assert vocab.decode([3, 1064, 1390]) == [0, 1061, 1387]
    with pytest.raises(ValueError, match="outside"):
        vocab.encode([1388])
    with pytest.raises(ValueError, match="outside"):
        vocab.encode([-1])
    # stops at EOS, skips PAD, UNK / out of range / negative -> DECODED_INVALID
    assert DECODED_INVALID == -2
    assert vocab.decode([0, 2, 3, 0, 1391, -5, 1064, 1, 1064, 0]) == [-2, 0, -2, -2, 1061]
    assert vocab.decode(np.array([1064, 1064])) == [1061, 1061]


def test_vocabulary_extra_ids_are_invalid():
    # MT3's test_decode_invalid_ids (32 regular ids, 4 extra ids), with PAD skipped instead of invalid
    vocab = Vocabulary(Codec(max_shift_steps=31, steps_per_second=100, event_ranges=[]), extra_ids=4)
    assert vocab.vocab_size == 39
    assert vocab.decode([0, 2, 3, 4, 34, 35]) == [-2, 0, 1, 31, -2]
    assert vocab.decode([0, 2, 3, 4, 1, 0, 1, 0]) == [-2, 0, 1]


def test_mask_helpers():
    vocab = Vocabulary(mt3_codec(1))
    assert vocab.program_ids([0, 33]) == {1135, 1168}
    assert vocab.program_ids() == set(range(1135, 1263))
    banned = vocab.program_ids() - vocab.program_ids([0, 33])
    assert len(banned) == 126 and 1135 not in banned and 1136 in banned
    assert vocab.drum_ids() == set(range(1263, 1391))
    assert vocab.drum_ids([36, 38]) == {1299, 1301}
    assert vocab.token_ids("tie") == {1134}
    assert vocab.token_ids("velocity") == {1132, 1133}
    with pytest.raises(ValueError):
        vocab.program_ids([128])
    with pytest.raises(ValueError):
        vocab.event(1)
