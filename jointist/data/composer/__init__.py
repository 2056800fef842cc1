"""Random multitrack songs, composed as notes, for the synthetic training corpus.

The project has no downloadable data, so it writes its own songs and renders every stem with FluidSynth
(:mod:`jointist.data.synthetic`). A song here is a list of stems (GM program, drum flag, musical role and
a :class:`~jointist.notes.NoteArray`); nothing is rendered and ``pretty_midi`` is not needed.

How a song is made (everything is drawn from the caller's ``numpy`` Generator, so a seed gives one song):

1. **Frame.** Tempo (uniform in the allowed range), metre (4/4, sometimes 3/4), swing (shuffle grooves
   and some hip-hop / reggae feels push the off-beat eighths late), a key (tonic and mode: major,
   minor, now and then dorian or mixolydian).
2. **Form.** Sections of 4 or 8 bars (intro, verse, pre-chorus, chorus, bridge, breakdown, outro), each
   with an energy between 0 and 1 that picks denser or sparser patterns and louder or softer playing.
3. **Harmony.** Every kind of section gets a progression from a bank of common ones (I-V-vi-IV,
   vi-IV-I-V, ii-V-I, i-VI-III-VII, i-iv-v, the Andalusian cadence, 12-bar blues, ...), built as
   diatonic triads or sevenths, one chord per 2 bars, per bar or per half bar.
4. **Band.** A number of stems between ``min_stems`` and ``max_stems`` (most often 7-9, as in Slakh2100).
   Drums and bass come first (usually), then comping, a melody and fillers (pads, arpeggios, a counter
   line, sparse hits). Each role draws its class from weights favouring common pop instruments and its
   program from the class's GM programs; ``guest_class`` forces one stem of a class in a role that suits
   it. Every stem plays in some sections and rests in others.
5. **Parts.** One generator per role writes idiomatic notes in beats (grooves with ghost notes, crashes
   and tom fills; bass roots, octaves, walking lines; voice-led chord voicings with strums; sustained
   pads; arpeggios; motif-based melodies; harmony lines; timpani rolls and effects).
6. **Performance.** Beats become seconds (with swing), then each stem gets timing jitter and velocity
   humanisation, pitches are folded into the class's range, notes are cut at ``duration_s``, and a
   note is shortened before the next onset of its pitch (MIDI cannot overlap them on one channel).

Those are pop songs. :mod:`.styles` writes the other styles a corpus draws (``style=``): chorales,
imitative counterpoint, chamber music (string quartet, wind quintet, piano trio), solo and accompanied
piano, orchestral music, each with rubato and phrase dynamics, and jazz (swing, walking bass, comping).

Modules: :mod:`.tables` (the constant tables), :mod:`.classes` (named class indices), :mod:`.draws`
(random draws), :mod:`.theory` (pitch, scale, chord and voicing helpers), :mod:`.plan` (steps 1-4),
:mod:`.parts` (step 5, with the role -> generator table), :mod:`.performance` (step 6), :mod:`.styles`
(the other styles) and :mod:`.compose` (:func:`compose_song`, :class:`Song`, :class:`Stem`).
"""

from __future__ import annotations

from jointist.data.composer.compose import Song, Stem, compose_song
from jointist.data.composer.tables import PITCH_RANGES, ROLES

__all__ = ["PITCH_RANGES", "ROLES", "Song", "Stem", "compose_song"]
