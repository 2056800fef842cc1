"""The composer's styles besides pop: chorales, counterpoint, chamber, piano, orchestral and jazz."""

from __future__ import annotations

import numpy as np
import pytest

from jointist.data.composer import PITCH_RANGES, compose_song
from jointist.data.composer.classes import SYNTH_LEAD
from jointist.data.composer.performance import NoteBuffer
from jointist.data.composer.plan import Chord, Voice
from jointist.data.composer.styles import STYLE_CLASSES, STYLES, _chorale_voicing, _write_counterpoint, plan_style
from jointist.data.synthetic import CorpusSpec, TrackJob, draw_style

CLASSICAL = ("chorale", "counterpoint", "chamber", "piano", "orchestral")


@pytest.mark.parametrize("style", STYLES)
def test_every_style_writes_valid_reproducible_songs(style):
    for seed in range(12):
        song = compose_song(np.random.default_rng(seed), duration_s=20.0, style=style)
        again = compose_song(np.random.default_rng(seed), duration_s=20.0, style=style)
        assert song.style == style and 1 <= len(song.stems) <= 12
        for stem, twin in zip(song.stems, again.stems, strict=True):
            notes = stem.notes
            assert len(notes) > 0 and stem.program == twin.program
            np.testing.assert_array_equal(notes.onset_s, twin.notes.onset_s)
            lo, hi = PITCH_RANGES[stem.instrument.index]
            assert lo <= notes.pitch.min() and notes.pitch.max() <= hi
            assert notes.offset_s.max() <= 20.0 + 1e-9 and np.all(notes.offset_s > notes.onset_s)
        drums = [s for s in song.stems if s.is_drum]
        assert (not drums) if style in CLASSICAL else len(drums) <= 1


def test_chorale_voicing_has_the_chord_in_four_uncrossed_voices():
    rng = np.random.default_rng(0)
    voices = [
        Voice("melody", 11, 40, 60, 79, 80, 1),
        Voice("counter", 11, 40, 55, 72, 80, 1),
        Voice("counter", 12, 41, 48, 67, 80, 1),
        Voice("bass", 13, 42, 38, 60, 80, 1),
    ]
    prev = None
    for pcs in [(0, 4, 7), (5, 9, 0), (7, 11, 2, 5), (0, 4, 7)]:  # I IV V7 I in C
        s, a, t, b = voicing = _chorale_voicing(rng, Chord(0, 1, pcs), voices, prev, bass_third=False)
        assert s > a > t > b and s - a <= 12 and a - t <= 12
        assert b % 12 == pcs[0] and {pcs[0], pcs[1]} <= {p % 12 for p in voicing}
        if prev:  # voice leading: no upper voice leaps more than a fifth
            assert max(abs(x - y) for x, y in zip(voicing[:3], prev[:3], strict=True)) <= 7
        prev = voicing


def test_counterpoint_voices_enter_one_after_another_with_the_same_subject():
    rng = np.random.default_rng(3)
    plan = plan_style(rng, "counterpoint", duration_s=40.0, tempo_bpm_range=(60.0, 180.0))
    plan.tempo_map = None  # beats = seconds * tempo / 60, to read the rhythm back in beats
    voices = [
        Voice("melody", 11, 40, 62, 84, 80, 1),
        Voice("counter", 12, 41, 55, 76, 80, 1),
        Voice("bass", 13, 42, 36, 57, 80, 1),
    ]
    bufs = [NoteBuffer() for _ in voices]
    _write_counterpoint(rng, plan, voices, bufs)
    firsts = sorted(min(b.onset_s) / plan.beat_s for b in bufs)
    gaps = np.diff(firsts)
    assert firsts[0] == pytest.approx(0.0) and np.all(gaps > 0) and np.allclose(gaps, gaps[0])
    length = gaps[0]  # the subject: every voice's first notes until the next entry share its rhythm
    rhythms = []
    for b in bufs:
        start = min(b.onset_s) / plan.beat_s
        beats = sorted(o / plan.beat_s - start for o in b.onset_s if o / plan.beat_s - start < length - 1e-6)
        rhythms.append(np.round(beats, 6))
    assert len(rhythms[0]) >= 2 and all(np.array_equal(r, rhythms[0]) for r in rhythms)


@pytest.mark.parametrize("style", CLASSICAL)
def test_classical_time_breathes_and_cadences_slow_down(style):
    plan = plan_style(np.random.default_rng(5), style, duration_s=60.0, tempo_bpm_range=(40.0, 220.0))
    beats, secs = plan.tempo_map
    assert beats[0] == 0 and secs[0] == 0 and np.all(np.diff(secs) > 0)
    step = np.diff(secs)
    assert step.max() / step.min() > 1.1  # not one constant tempo
    assert plan.end_beat < (plan.sections[-1].start_bar + plan.sections[-1].n_bars) * plan.beats_per_bar
    assert plan.time_s(plan.end_beat) == pytest.approx(60.0)


def test_phrases_have_dynamics():
    song = compose_song(np.random.default_rng(1), duration_s=40.0, style="chamber")
    velocities = np.concatenate([s.notes.velocity for s in song.stems])
    assert velocities.max() - velocities.min() >= 20


def test_jazz_swings_over_a_walking_bass():
    for seed in range(20):
        song = compose_song(np.random.default_rng(seed), duration_s=30.0, style="jazz", tempo_bpm_range=(100.0, 180.0))
        drums = [s for s in song.stems if s.is_drum]
        if drums:
            break
    beat = 60.0 / song.tempo_bpm
    bass = next(s for s in song.stems if s.role == "bass")
    ioi = np.diff(bass.notes.onset_s) / beat
    assert np.median(ioi) == pytest.approx(1.0, abs=0.05)  # a note on every beat
    ride = drums[0].notes.onset_s[drums[0].notes.pitch == 51] / beat
    off = (ride % 1.0)[(ride % 1.0) > 0.3]
    assert len(off) and np.median(off) > 0.55  # the off-beat eighth comes late


@pytest.mark.parametrize("style", STYLES[1:])
def test_a_style_plays_every_guest_it_can_host_and_leaves_out_the_others(style):
    for guest in sorted(STYLE_CLASSES[style]):
        for seed in range(3):
            song = compose_song(np.random.default_rng(seed), duration_s=12.0, style=style, guest_class=guest)
            assert song.style == style
            assert any(s.instrument.index == guest and len(s.notes) for s in song.stems), (guest, seed)
    song = compose_song(np.random.default_rng(0), duration_s=12.0, style=style, guest_class=SYNTH_LEAD)
    assert song.style == style and all(s.instrument.index != SYNTH_LEAD for s in song.stems)
    with pytest.raises(ValueError, match="unknown style 'polka'"):
        compose_song(np.random.default_rng(0), duration_s=10.0, style="polka")


def test_the_style_split_holds_out_jazz():
    spec = CorpusSpec(num_tracks=10, duration_s=10.0)
    train = {draw_style(spec, TrackJob("train", n, n, 0)) for n in range(300)}
    assert "jazz" not in train and {"pop", "chorale", "counterpoint", "chamber", "piano", "orchestral"} <= train
    assert {draw_style(spec, TrackJob("test_style", n, n, 0)) for n in range(50)} == {"jazz"}
    with pytest.raises(ValueError, match="styles.train"):
        CorpusSpec(num_tracks=10, duration_s=10.0, styles={"train": {"polka": 1.0}})


def test_the_style_draw_does_not_depend_on_the_order_the_weights_are_listed_in():
    """corpus.yaml stores the weights with sorted keys: a spec read back from it must draw the same styles."""
    listed = {"pop": 0.4, "chorale": 0.12, "counterpoint": 0.1, "chamber": 0.14, "piano": 0.1, "orchestral": 0.14}
    spec = CorpusSpec(num_tracks=10, duration_s=10.0, styles={"train": listed})
    reread = CorpusSpec(num_tracks=10, duration_s=10.0, styles={"train": dict(sorted(listed.items()))})
    draws = [draw_style(spec, TrackJob("train", n, n, 0)) for n in range(100)]
    assert draws == [draw_style(reread, TrackJob("train", n, n, 0)) for n in range(100)]
    assert len(set(draws)) == len(listed)
