"""The models behind their role protocols: shapes, conditioning, front-ends, every shipped config."""

from pathlib import Path

import pytest
import torch

from jointist.audio.features import HarmonicSpectrogram
from jointist.cli import CONF_DIR
from jointist.models.base import ROLE_PROTOCOLS
from jointist.models.film import FiLM
from tests.conftest import model_config, perturb, sine_notes, tiny_model

TRANSCRIBERS = ["PitchwiseTranscriber", "OnsetsFramesTranscriber"]


@pytest.mark.parametrize("name", TRANSCRIBERS)
def test_output_shapes_for_several_instruments_at_once(name):
    model = tiny_model(name).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 16_000), torch.tensor([[0, 10, 38], [5, 9, 1]]))
    assert out.onset.shape == out.frame.shape == (2, 3, 101, 88)


@pytest.mark.parametrize("name", TRANSCRIBERS)
def test_agnostic_head_is_per_clip_or_absent(name):
    model = tiny_model(name).eval()
    with torch.no_grad():
        agnostic = model.agnostic(model.features(torch.randn(2, 8_000)))
    if name == "PitchwiseTranscriber":
        assert agnostic.onset.shape == agnostic.frame.shape == (2, 51, 88)
    else:  # the log-mel layout has no agnostic head: the task then leaves the agnostic loss out
        assert agnostic is None


@pytest.mark.parametrize("midi", [33, 45, 60, 76, 96])
def test_harmonic_spectrogram_puts_each_harmonic_of_a_tone_on_its_key(midi):
    """A pure tone at key k peaks at key k in the fundamental channel, and at key k - 12 in the
    channel of the 2nd harmonic (that channel reads the spectrum one octave above each key)."""
    frontend = HarmonicSpectrogram(harmonics=(0.5, 1, 2))
    audio = torch.from_numpy(sine_notes([(0.0, 1.0, midi)], 1.0))[None]
    spec = frontend(audio)
    assert spec.shape == (1, 3, 101, 264)
    peak = spec[0, :, 50].argmax(dim=-1)  # per channel, in 1/3-semitone bins; key k is bin 3k + 1
    key = midi - 21
    assert abs(int(peak[1]) - (3 * key + 1)) <= 1
    assert abs(int(peak[2]) - (3 * (key - 12) + 1)) <= 1
    assert abs(int(peak[0]) - (3 * (key + 12) + 1)) <= 1 or key + 12 >= 88


@pytest.mark.parametrize("name", TRANSCRIBERS)
@pytest.mark.parametrize("film", ["full", "bias"])
def test_batched_conditioning_equals_one_at_a_time(name, film):
    model = perturb(tiny_model(name, film=film)).eval()
    audio = torch.randn(1, 8_000)
    classes = [3, 10, 38]
    with torch.no_grad():
        together = model(audio, torch.tensor([classes]))
        for j, c in enumerate(classes):
            alone = model(audio, torch.tensor([[c]]))
            assert torch.allclose(together.onset[0, j], alone.onset[0, 0], atol=1e-5)
            assert torch.allclose(together.frame[0, j], alone.frame[0, 0], atol=1e-5)
        assert not torch.allclose(together.frame[0, 0], together.frame[0, 1])  # the condition changes the output


def test_film_with_unit_gamma_and_zero_beta_is_the_identity():
    film = FiLM(8, 39, mode="full", feature_dim=1)
    x = torch.randn(2, 8, 5, 3)
    cond = torch.nn.functional.one_hot(torch.tensor([4, 7]), 39).float()
    assert torch.equal(film(x, cond), x)  # a new FiLM layer: gamma = 1, beta = 0
    gamma, beta = torch.ones(2, 8), torch.zeros(2, 8)
    assert torch.equal(film.modulate(x, gamma, beta), x)
    shifted = film.modulate(x, 2 * gamma, beta + 1)
    assert torch.allclose(shifted, 2 * x + 1)
    bias_only = FiLM(8, 39, mode="bias")
    assert bias_only.delta is None and bias_only.params(cond)[0] is None
    with pytest.raises(ValueError, match="FiLM mode"):
        FiLM(8, 39, mode="gamma")


@pytest.mark.parametrize("name", sorted(p.stem for p in (Path(CONF_DIR) / "model").glob("*.yaml")))
def test_every_model_config_builds_a_model_of_its_role(name):
    """Every shipped model config builds (at full size) a model that keeps its role's protocol."""
    from hydra.utils import instantiate

    model = instantiate(model_config(name), _convert_="object").eval()
    assert isinstance(model, ROLE_PROTOCOLS[model.role]), (name, model.role)
    audio, instruments = torch.randn(1, 16_000), torch.tensor([[0, 38]])
    with torch.no_grad():
        if model.role == "transcriber":
            out = model.heads(model.features(audio), instruments)
            assert out.onset.shape == out.frame.shape == (1, 2, 101, 88)
        elif model.role == "separator":
            assert model.heads(model.features(audio), instruments, torch.rand(1, 2, 101, 88)).shape == (1, 2, 16_000)
        elif model.role == "verifier":  # features of 3 candidates, their instruments and rivals -> logits
            from jointist.verifier import FEATURES

            assert model(torch.randn(3, len(FEATURES)), torch.tensor([0, 1, 38]), torch.tensor([39, 0, 2])).shape == (3,)
        elif model.role == "ender":  # candidate ends of 3 notes, their instruments and the slots in use -> scores
            from jointist.note_ends import FEATURES as END_FEATURES
            from jointist.note_ends import KINDS

            scores = model(torch.randn(3, len(KINDS), len(END_FEATURES)), torch.tensor([0, 1, 38]),
                           torch.ones(3, len(KINDS), dtype=torch.bool))
            assert scores.shape == (3, len(KINDS))
        elif model.role == "drummer":  # onsets and velocities of the GM kit keys on the 88-key axis
            onset, velocity = model.rolls(audio)
            assert onset.shape == velocity.shape == (1, 101, 88)
        elif model.role == "seq2seq":  # teacher forcing: logits over the vocabulary for every decoder position
            assert model(audio, torch.zeros(1, 5, dtype=torch.long)).shape == (1, 5, model.init_args["vocab_size"])
        else:
            assert model(torch.randn(2, 16_000)).shape == (2, 39)
