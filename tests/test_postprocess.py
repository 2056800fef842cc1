"""Posteriorgrams -> notes: onset peaks, frame continuation, minimum length, drums, shared onsets."""

import numpy as np
import pytest

from jointist.postprocess import DecodeConfig, decode_notes, decode_tracks


def posteriorgram(frames: int = 100) -> tuple[np.ndarray, np.ndarray]:
    onset = np.zeros((frames, 88), np.float32)
    frame = np.zeros((frames, 88), np.float32)
    # C4 (key 39): onset run 9..11 peaking at 10, sounding frames 10..29
    onset[9:12, 39] = [0.6, 0.9, 0.7]
    frame[10:30, 39] = 0.8
    # E4 (key 43): onset at 20, frames dip below threshold at 25 -> ends at 25
    onset[20, 43] = 0.8
    frame[20:25, 43] = 0.9
    frame[25:40, 43] = 0.2
    # G4 (key 46): two onsets at 50 and 60 with continuous frames -> two notes split at 60
    onset[50, 46] = onset[60, 46] = 0.95
    frame[50:70, 46] = 0.9
    # A4 (key 48): onset below threshold -> nothing
    onset[70, 48] = 0.4
    frame[70:80, 48] = 0.9
    # B4 (key 50): onset with a frame lag of one frame -> still a note starting at 80
    onset[80, 50] = 0.7
    frame[81:90, 50] = 0.9
    # D5 (key 53): a 1-frame blip -> dropped by min_note_s (3 frames)
    onset[95, 53] = 0.9
    return onset, frame


def test_decoding_golden_values():
    onset, frame = posteriorgram()
    notes = decode_notes(onset, frame, config=DecodeConfig(onset_threshold=0.5, frame_threshold=0.5, min_note_s=0.03))
    got = [(round(e.onset_s, 2), round(e.offset_s, 2), e.pitch) for e in notes.to_events()]
    assert got == [(0.1, 0.3, 60), (0.2, 0.25, 64), (0.5, 0.6, 67), (0.6, 0.7, 67), (0.8, 0.9, 71)]
    assert set(notes.velocity.tolist()) == {100}


def test_decoding_offsets_time_and_drums():
    onset, frame = posteriorgram()
    shifted = decode_notes(onset, frame, config=DecodeConfig(frame_threshold=0.5), offset_s=10.0)
    assert shifted.onset_s[0] == pytest.approx(10.1)
    drums = decode_notes(onset, frame, is_drum=True, config=DecodeConfig(drum_note_s=0.05))
    assert drums.onset_s.tolist() == pytest.approx([0.1, 0.2, 0.5, 0.6, 0.8, 0.95])
    assert np.allclose(drums.offset_s - drums.onset_s, 0.05)
    with pytest.raises(ValueError, match="88"):
        decode_notes(onset[:, :80], frame[:, :80])


def test_shared_onsets_go_to_the_most_likely_pitched_instrument():
    from jointist.postprocess import decode_tracks, suppress_shared_onsets

    onset = np.zeros((20, 3, 88), np.float32)
    frame = np.zeros((20, 3, 88), np.float32)
    onset[5, 0, 39], onset[6, 1, 39] = 0.9, 0.6  # one note heard by piano (strong) and e-piano a frame later
    onset[12, 1, 50] = 0.8  # a note only the e-piano hears
    onset[5, 2, 39] = 0.7  # drums at the same key do not compete
    frame[5:10, :2, 39] = 0.9
    frame[12:15, 1, 50] = 0.9
    kept = suppress_shared_onsets(onset, 1.0, pitched=np.array([True, True, False]))
    assert kept[6, 1, 39] == 0 and kept[5, 0, 39] == pytest.approx(0.9) and kept[12, 1, 50] == pytest.approx(0.8)
    assert kept[5, 2, 39] == pytest.approx(0.7)
    assert np.array_equal(suppress_shared_onsets(onset, 0.0), onset)
    assert suppress_shared_onsets(onset, 0.5)[6, 1, 39] == pytest.approx(0.6)  # 0.6 >= 0.5 * 0.9: a unison stays

    config = DecodeConfig(onset_threshold=0.5, frame_threshold=0.5, shared_onset_ratio=1.0)
    notes = decode_tracks(onset, frame, [0, 4, 38], config=config)
    assert notes[0].pitch.tolist() == [60] and notes[4].pitch.tolist() == [71] and len(notes[38]) == 1
    independent = decode_tracks(onset, frame, [0, 4, 38], config=DecodeConfig(onset_threshold=0.5, frame_threshold=0.5))
    assert sorted(independent[4].pitch.tolist()) == [60, 71]
    with pytest.raises(ValueError, match="time, 2, 88"):
        decode_tracks(onset, frame, [0, 4])


def test_notes_take_their_velocity_from_the_velocity_roll_at_their_onset():
    from jointist.postprocess import decode_notes, decode_tracks

    onset = np.zeros((50, 88), np.float32)
    frame = np.zeros((50, 88), np.float32)
    velocity = np.zeros((50, 88), np.float32)
    onset[10, 39], frame[10:20, 39], velocity[10, 39] = 0.9, 0.9, 100 / 127  # middle C (key 39)
    onset[30, 43], frame[30:45, 43], velocity[30, 43] = 0.9, 0.9, 0.2
    notes = decode_notes(onset, frame, velocity=velocity)
    assert notes.pitch.tolist() == [60, 64] and notes.velocity.tolist() == [100, 25]
    assert decode_notes(onset, frame).velocity.tolist() == [100, 100]  # no velocity head: the fixed default
    drums = decode_notes(onset, frame, is_drum=True, velocity=velocity)
    assert drums.velocity.tolist() == [100, 25]
    tracks = decode_tracks(onset[:, None], frame[:, None], [0], velocity=velocity[:, None])
    assert tracks[0].velocity.tolist() == [100, 25]


def test_velocity_f1_rewards_the_right_dynamics():
    from jointist.metrics import evaluate_piece, summarise
    from jointist.notes import NoteArray

    def notes(velocities):
        return NoteArray.from_arrays([0.5, 1.5, 2.5, 3.5], [1.0, 2.0, 3.0, 4.0], [60, 62, 64, 65], velocities)

    # mir_eval rescales the estimate's velocities onto the reference's by least squares: a consistent
    # scale (here louder throughout) is right, shuffled dynamics or one fixed velocity are not
    ref = notes([30, 60, 90, 120])
    right = summarise([evaluate_piece("p", {0: ref}, {0: notes([50, 76, 104, 127])})])
    wrong = summarise([evaluate_piece("p", {0: ref}, {0: notes([90, 30, 120, 60])})])
    fixed = summarise([evaluate_piece("p", {0: ref}, {0: notes([100, 100, 100, 100])})])
    assert right.flat["onset"] == wrong.flat["onset"] == fixed.flat["onset"] == 1.0  # the notes are right each time
    assert right.velocity["flat"] == 1.0 and wrong.velocity["flat"] == fixed.velocity["flat"] == 0.0
    assert "Note-with-velocity F1" in right.to_markdown()


def test_decoding_uint8_codes_one_instrument_at_a_time_equals_decoding_probabilities():
    """The pipeline decodes its stitched uint8 posteriorgrams directly (``scale=255``), converting one
    instrument at a time; with shared onsets competing across instruments, the notes are the same as
    from the float probabilities."""
    rng = np.random.default_rng(0)
    shape = (400, 4, 88)
    onset = (rng.random(shape) ** 8 * 255).astype(np.uint8)
    frame = (rng.random(shape) ** 2 * 255).astype(np.uint8)
    velocity = (rng.random(shape) * 255).astype(np.uint8)
    classes = [0, 10, 38, 25]
    config = DecodeConfig(onset_threshold=0.2, frame_threshold=0.2, shared_onset_ratio=0.8)
    from_codes = decode_tracks(onset, frame, classes, config=config, velocity=velocity, scale=255)
    from_probs = decode_tracks(onset / 255.0, frame / 255.0, classes, config=config, velocity=velocity / 255.0)
    assert sum(len(n) for n in from_codes.values()) > 1000
    for c in classes:
        a, b = from_codes[c], from_probs[c]
        assert np.array_equal(a.onset_s, b.onset_s) and np.array_equal(a.offset_s, b.offset_s)
        assert np.array_equal(a.pitch, b.pitch) and np.array_equal(a.velocity, b.velocity)


def reference_notes(onset: np.ndarray, frame: np.ndarray, config: DecodeConfig, fps: int = 100) -> list[tuple[int, int, int]]:
    """The decoding rule written out directly over a whole song, frame by frame: (onset frame, end frame, key)."""
    frames = len(onset)
    notes = []
    for key in range(88):
        o = onset[:, key]
        peaks = [t for t in range(frames) if o[t] >= config.onset_threshold
                 and (t == 0 or o[t] >= o[t - 1]) and (t == frames - 1 or o[t] > o[t + 1])]
        for i, start in enumerate(peaks):
            limit = peaks[i + 1] if i + 1 < len(peaks) else frames
            end = min(start + 1 + config.onset_frames, limit)
            while end < limit and frame[end, key] >= config.frame_threshold:
                end += 1
            if end - start >= max(1, round(config.min_note_s * fps)):
                notes.append((start, end, key))
    return sorted(notes)


@pytest.mark.parametrize("blocks", [[300], [1, 1, 2, 296], [17, 100, 1, 182], [150, 150]])
def test_decoding_in_blocks_gives_the_notes_of_the_whole_song(blocks):
    """The pipeline decodes while it stitches windows, block after block: notes held across any block
    boundary (and onsets on the boundary frames) come out as from the whole song at once, and as the
    rule written out frame by frame says."""
    from jointist.postprocess import NoteTracker, TrackDecoder

    rng = np.random.default_rng(sum(blocks) + len(blocks))
    shape = (300, 3, 88)
    onset = (rng.random(shape) ** 6 * 255).astype(np.uint8)
    frame = (rng.random(shape) ** 0.3 * 255).astype(np.uint8)  # mostly sounding: long notes cross boundaries
    velocity = (rng.random(shape) * 255).astype(np.uint8)
    classes = [0, 38, 25]
    for ratio in (0.0, 0.7):
        config = DecodeConfig(onset_threshold=0.3, frame_threshold=0.4, onset_frames=2, shared_onset_ratio=ratio)
        whole = decode_tracks(onset, frame, classes, config=config, velocity=velocity, scale=255, block_frames=10_000)
        decoder = TrackDecoder(classes, config=config, scale=255)
        first = 0
        for n in blocks:
            decoder.push(onset[first: first + n], frame[first: first + n], velocity[first: first + n])
            first += n
        streamed = decoder.finish()
        for c in classes:
            a, b = whole[c], streamed[c]
            assert np.array_equal(a.onset_s, b.onset_s) and np.array_equal(a.offset_s, b.offset_s)
            assert np.array_equal(a.pitch, b.pitch) and np.array_equal(a.velocity, b.velocity)
    config = DecodeConfig(onset_threshold=0.3, frame_threshold=0.4, onset_frames=2)
    piano = decode_tracks(onset, frame, classes, config=config, scale=255)[0]
    expected = reference_notes(onset[:, 0] / 255.0, frame[:, 0] / 255.0, config)
    assert len(expected) > 100 and max(e - s for s, e, _ in expected) > 20  # notes long enough to cross blocks
    got = sorted(zip(np.rint(piano.onset_s * 100).astype(int).tolist(), np.rint(piano.offset_s * 100).astype(int).tolist(),
                     (piano.pitch - 21).tolist()))
    assert got == expected
    tracker = NoteTracker(config=config)
    tracker.push(onset[:10, 0] / 255.0, frame[:10, 0] / 255.0)
    with pytest.raises(ValueError, match="velocity must be given with every block"):
        tracker.push(onset[10:20, 0] / 255.0, frame[10:20, 0] / 255.0, velocity[10:20, 0] / 255.0)
