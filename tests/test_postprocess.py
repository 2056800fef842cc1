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
    onset[5, 0, 39], onset[6, 1, 39] = 0.9, 0.6  # one note heard by piano (strong) and class 4 a frame later
    onset[12, 1, 50] = 0.8  # a note only class 4 hears
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
    # class 4's own ratio 0: it keeps the unison note while the piano still competes
    own = DecodeConfig(onset_threshold=0.5, frame_threshold=0.5, shared_onset_ratio=1.0,
                       class_thresholds={"chromatic percussion": [0.5, 0.5, 0.0]})
    assert sorted(decode_tracks(onset, frame, [0, 4, 38], config=own)[4].pitch.tolist()) == [60, 71]
    only_class_4_competes = DecodeConfig(onset_threshold=0.5, frame_threshold=0.5,
                                         class_thresholds={"Chromatic Percussion": [0.5, 0.5, 1.0]})
    assert decode_tracks(onset, frame, [0, 4, 38], config=only_class_4_competes)[4].pitch.tolist() == [71]
    with pytest.raises(ValueError, match="time, 2, 88"):
        decode_tracks(onset, frame, [0, 4])


def test_an_instrument_decodes_with_its_own_thresholds_where_the_table_names_it():
    onset = np.zeros((40, 3, 88), np.float32)
    frame = np.zeros((40, 3, 88), np.float32)
    for k, key in enumerate((39, 20, 50)):  # piano C4, bass, timpani: each one onset of 0.35 and 10 frames at 0.45
        onset[5, k, key] = 0.35
        frame[5:15, k, key] = 0.45
    shared = DecodeConfig(onset_threshold=0.3, frame_threshold=0.4)
    table = DecodeConfig(onset_threshold=0.3, frame_threshold=0.4, class_thresholds={"bass": [0.5, 0.4], "timpani": (0.3, 0.5)})
    assert table.class_thresholds == (("Bass", 0.5, 0.4, None, None), ("Timpani", 0.3, 0.5, None, None))  # canonical names, sorted
    assert table.for_class(0) is table and table.for_class(10).onset_threshold == 0.5  # piano keeps the shared ones
    # a table as model files store it, before offsets were per instrument (name, onset, frame, ratio) and after
    assert DecodeConfig(class_thresholds=(("Bass", 0.5, 0.4, None),)).class_thresholds == (("Bass", 0.5, 0.4, None, None),)
    with_offset = DecodeConfig(offset_threshold=0.2, class_thresholds={"bass": [0.5, 0.4, None, 0.0], "piano": [0.3, 0.4, 0.5]})
    assert (with_offset.for_class(10).offset_threshold, with_offset.for_class(0).offset_threshold) == (0.0, 0.2)
    assert with_offset.for_class(0).shared_onset_ratio == 0.5 and with_offset.for_class(10).shared_onset_ratio == 0.0
    both = decode_tracks(onset, frame, [0, 10, 17], config=shared)
    assert [len(both[c]) for c in (0, 10, 17)] == [1, 1, 1]
    assert both[17].offset_s.tolist() == pytest.approx([0.15])
    own = decode_tracks(onset, frame, [0, 10, 17], config=table)
    assert len(own[0]) == 1 and len(own[10]) == 0  # bass: 0.35 < its onset threshold 0.5
    # timpani: frames of 0.45 < 0.5 end the note after the onset frame and the one after it (min_note_s: 3 frames)
    assert len(own[17]) == 0
    assert len(decode_tracks(onset, frame, [0, 10, 17], config=DecodeConfig(**{**table.__dict__, "class_thresholds": {}}))[10]) == 1


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
    own = {"Oboe": [0.2, 0.3, 0.0], "Drums": [0.5, 0.4]}  # per-instrument settings: oboe does not compete
    for ratio, table in ((0.0, None), (0.7, None), (0.7, own)):
        config = DecodeConfig(onset_threshold=0.3, frame_threshold=0.4, onset_frames=2, shared_onset_ratio=ratio,
                              class_thresholds=table)
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


def test_per_instrument_thresholds_are_fitted_where_an_instrument_is_miscalibrated():
    """Piano's onsets peak at only 0.45, with ghost peaks of 0.25 and a frame tail of 0.35 after each
    note; bass is confident. Tuning finds piano's own thresholds and leaves bass on the shared ones."""
    from jointist.evaluation import ClassThresholdChoice, tune_class_thresholds
    from tests.conftest import note_array

    def song(i: int, with_sax: bool) -> tuple:
        classes = [0, 10, 24] if with_sax else [0, 10]  # piano, bass, saxophone
        onset = np.zeros((300, len(classes), 88), np.float32)
        frame = np.zeros_like(onset)
        ref = {}
        starts = [20 + 7 * i, 140]  # frames; notes of 50 frames (0.5 s), a ghost onset at frame 100
        for k, (key, peak) in enumerate(((39, 0.45), (20, 0.9))):
            for start in starts:
                onset[start, k, key] = peak
                frame[start:start + 50, k, key] = 0.6
                if k == 0:
                    frame[start + 50:start + 70, k, key] = 0.35  # piano's tail: offsets too late below 0.4
            ref[classes[k]] = note_array([(s / 100, (s + 50) / 100, key + 21) for s in starts])
        onset[100, 0, 45] = 0.25  # a ghost note of piano
        frame[100:110, 0, 45] = 0.6
        if with_sax:
            ref[24] = note_array([(0.5, 1.0, 72)])
        codes = lambda x: np.rint(x * 255).astype(np.uint8)  # noqa: E731  the pipeline's uint8 codes
        return f"song{i}", ref, classes, codes(onset), codes(frame)

    cached = [song(i, with_sax=i < 2) for i in range(6)]
    choices: dict[str, ClassThresholdChoice] = {}
    config = DecodeConfig(onset_threshold=0.2, frame_threshold=0.2, shared_onset_ratio=0.8)
    table = tune_class_thresholds(cached, config, min_pieces=5, progress=False, choices=choices)
    # the first (lowest) of the best onset thresholds above the ghost and below the peak, and a frame
    # threshold above the tail
    assert table == {"Piano": (0.3, 0.4, 0.8)}
    # the split's balanced objective, piano's settings changed alone: only the saxophone's two songs
    # (no notes heard) keep it below 1
    assert choices["Piano"].shared_score < 0.75 < choices["Piano"].score
    assert choices["Bass"] == ClassThresholdChoice(0.2, 0.2, 0.8, choices["Piano"].shared_score,
                                                   choices["Piano"].shared_score, 6)
    assert "Saxophone" not in choices and len(choices) == 2  # in 2 songs only: keeps the shared thresholds
    tuned = DecodeConfig(**{**config.__dict__, "class_thresholds": table})
    notes = decode_tracks(*cached[3][3:], cached[3][2], config=tuned, scale=255.0)
    assert notes[0].pitch.tolist() == [60, 60] and notes[0].offset_s.tolist() == pytest.approx([0.91, 1.9])


def test_an_ensemble_that_doubles_a_solo_line_is_tuned_out_of_onset_suppression():
    """Strings double the violin a little less confidently; with the shared ratio 0.8 they lose
    every note to it, so tuning gives them a ratio that lets them keep the unison."""
    from jointist.evaluation import tune_class_thresholds
    from jointist.instruments import by_name
    from tests.conftest import note_array

    violin, strings = by_name("violin").index, by_name("strings").index
    cached = []
    for i in range(5):
        onset = np.zeros((200, 2, 88), np.float32)
        frame = np.zeros_like(onset)
        starts = [30 + 5 * i, 120]
        for k, peak in ((0, 0.9), (1, 0.5)):
            for start in starts:
                onset[start, k, 50], frame[start:start + 40, k, 50] = peak, 0.8
        notes = note_array([(s / 100, (s + 40) / 100, 71) for s in starts])
        cached.append((f"song{i}", {violin: notes, strings: notes}, [violin, strings], onset, frame))
    config = DecodeConfig(onset_threshold=0.2, frame_threshold=0.2, shared_onset_ratio=0.8)
    table = tune_class_thresholds(cached, config, shared_onset_grid=(0.0, 0.5, 0.8, 1.0), progress=False)
    assert set(table) == {"Strings"} and table["Strings"][2] in (0.0, 0.5)  # 0.5 >= 0.5 * 0.9 keeps the unison
    decoded = decode_tracks(*cached[0][3:], [violin, strings], config=DecodeConfig(**{**config.__dict__, "class_thresholds": table}))
    assert len(decoded[strings]) == len(decoded[violin]) == 2
    assert len(decode_tracks(*cached[0][3:], [violin, strings], config=config)[strings]) == 0


def test_an_instrument_whose_offset_peaks_come_inside_its_notes_is_tuned_to_ignore_them():
    """Piano's frames ring on 20 frames past each note, and its offset head marks the true end; the
    violin's frames end right, but its head also fires in the middle of every note. With the shared
    offset threshold, piano's notes end right and the violin's early: the violin alone is given
    offsets off (0), with its frame threshold kept, and then ends its notes right."""
    from jointist.evaluation import tune_class_offsets
    from jointist.instruments import by_name
    from tests.conftest import note_array

    piano, violin = by_name("piano").index, by_name("violin").index
    codes = lambda x: np.rint(x * 255).astype(np.uint8)  # noqa: E731  the pipeline's uint8 codes
    cached = []
    for i in range(5):
        onset, frame, offsets = (np.zeros((300, 2, 88), np.float32) for _ in range(3))
        starts = [20 + 3 * i, 150]
        for start in starts:
            onset[start, :, [39, 50]] = 0.9
            frame[start:start + 70, 0, 39] = 0.6  # piano: a tail past the end
            offsets[start + 50, 0, 39] = 0.7
            frame[start:start + 50, 1, 50] = 0.6  # violin: frames end right, but a spurious peak inside
            offsets[start + 20, 1, 50] = 0.5
        ref = {piano: note_array([(s / 100, (s + 50) / 100, 60) for s in starts]),
               violin: note_array([(s / 100, (s + 50) / 100, 71) for s in starts])}
        cached.append((f"song{i}", ref, [piano, violin], codes(onset), codes(frame), codes(offsets)))
    config = DecodeConfig(onset_threshold=0.3, frame_threshold=0.2, offset_threshold=0.3)
    choices: dict = {}
    table = tune_class_offsets(cached, config, progress=False, choices=choices)
    assert table == (("Violin", 0.3, 0.2, None, 0.0),)
    assert choices["Piano"][:2] == (0.2, 0.3) and choices["Piano"][2] == choices["Piano"][3]  # kept: nothing better
    assert choices["Violin"][2] > choices["Violin"][3]
    before = decode_tracks(*cached[0][3:5], [piano, violin], config=config, scale=255.0, offsets=cached[0][5])
    tuned = DecodeConfig(**{**config.__dict__, "class_thresholds": table})
    after = decode_tracks(*cached[0][3:5], [piano, violin], config=tuned, scale=255.0, offsets=cached[0][5])
    assert before[piano].offset_s.tolist() == after[piano].offset_s.tolist() == pytest.approx([0.7, 2.0])
    assert before[violin].offset_s.tolist() == pytest.approx([0.4, 1.7])
    assert after[violin].offset_s.tolist() == pytest.approx([0.7, 2.0])
    with pytest.raises(ValueError, match="offset head"):
        tune_class_offsets([song[:5] for song in cached], config, progress=False)


def test_a_note_ends_at_the_first_offset_peak_after_its_onset_frames():
    """A decaying note whose frame probability stays high (piano with its tail) ends where the offset
    head says, and one whose frame probability falls first still ends there; weak offset peaks, drums
    and a threshold of 0 (or None) change nothing."""
    onset, frame = posteriorgram()
    offsets = np.zeros_like(onset)
    offsets[19:22, 39] = [0.3, 0.8, 0.5]  # C4 (frames 10..29): a peak at 20
    offsets[11, 39] = 0.9  # inside the onset frames (10, 11): not an end
    offsets[33, 43] = 0.9  # E4 ends at 25 by its frames: a later peak changes nothing
    offsets[55, 46] = 0.3  # G4: a weak peak
    config = DecodeConfig(onset_threshold=0.5, frame_threshold=0.5, offset_threshold=0.6)
    notes = decode_notes(onset, frame, config=config, offsets=offsets)
    got = [(round(e.onset_s, 2), round(e.offset_s, 2), e.pitch) for e in notes.to_events()]
    assert got == [(0.1, 0.2, 60), (0.2, 0.25, 64), (0.5, 0.6, 67), (0.6, 0.7, 67), (0.8, 0.9, 71)]
    plain = decode_notes(onset, frame, config=DecodeConfig(onset_threshold=0.5, frame_threshold=0.5))
    for off in (None, 0.0):
        same = decode_notes(onset, frame, config=DecodeConfig(onset_threshold=0.5, frame_threshold=0.5,
                                                              offset_threshold=off), offsets=offsets)
        assert np.array_equal(same.offset_s, plain.offset_s)
    drums = decode_notes(onset, frame, is_drum=True, config=config, offsets=offsets)
    plain_drums = decode_notes(onset, frame, is_drum=True, config=config)
    assert np.array_equal(drums.offset_s, plain_drums.offset_s) and len(drums) == 6
    # every instrument of a song, in blocks of any size, gives the same notes
    stacked = lambda x: np.repeat(x[:, None], 2, axis=1)  # noqa: E731
    for block in (7, 100):
        tracks = decode_tracks(stacked(onset), stacked(frame), [0, 5], config=config, offsets=stacked(offsets),
                               block_frames=block)
        assert np.array_equal(tracks[0].offset_s, notes.offset_s) and np.array_equal(tracks[5].offset_s, notes.offset_s)
    with pytest.raises(ValueError, match="offsets must be"):
        decode_notes(onset, frame, config=config, offsets=offsets[:, :80])
    from jointist.postprocess import NoteTracker

    for first, then in ((offsets, None), (None, offsets)):  # with every block or with none, used or not
        for setting in (config, DecodeConfig()):
            tracker = NoteTracker(config=setting)
            tracker.push(onset[:50], frame[:50], None, None if first is None else first[:50])
            with pytest.raises(ValueError, match="offsets must be given with every block or with none"):
                tracker.push(onset[50:], frame[50:], None, None if then is None else then[50:])
    with pytest.raises(ValueError, match="offset_threshold must be in"):
        DecodeConfig(offset_threshold=1.5)


def test_offset_errors_say_how_and_why_notes_end_off_their_reference():
    """Three piano notes of 1 s: one decoded right, one whose frame roll falls halfway (early, the key
    quiet), one held 0.5 s too long (late); an offset peak halfway through the third cuts it early."""
    from jointist.evaluation import offset_error_table, offset_errors
    from tests.conftest import note_array

    onset = np.zeros((500, 1, 88), np.float32)
    frame = np.zeros_like(onset)
    offsets = np.zeros_like(onset)
    ref = note_array([(0.1, 1.1, 60), (1.0, 2.0, 64), (2.0, 3.0, 67)])
    for start, end, key in ((10, 110, 39), (100, 150, 43), (200, 350, 46)):
        onset[start, 0, key] = 0.9
        frame[start:end, 0, key] = 0.9
    offsets[250, 0, 46] = 0.8
    codes = lambda x: np.rint(x * 255).astype(np.uint8)  # noqa: E731
    song = ("song", {0: ref}, [0], codes(onset), codes(frame), codes(offsets))
    plain = offset_errors([song], DecodeConfig(onset_threshold=0.5, frame_threshold=0.5))
    assert plain.shares() == (3, pytest.approx(1 / 3), pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert plain.causes == {"frame roll fell, the key stays quiet": 1}
    np.testing.assert_allclose(sorted(plain.errors[0][:, 0]), [-0.5, 0.0, 0.5], atol=1e-9)
    cut = offset_errors([song], DecodeConfig(onset_threshold=0.5, frame_threshold=0.5, offset_threshold=0.5))
    assert cut.shares() == (3, pytest.approx(1 / 3), pytest.approx(2 / 3), 0.0)
    assert cut.causes == {"frame roll fell, the key stays quiet": 1, "at an offset peak": 1}
    table = offset_error_table("test", [song], DecodeConfig(onset_threshold=0.5, frame_threshold=0.5))
    assert "all pitched           3 0.333 0.333 0.333" in table and "Piano" in table
