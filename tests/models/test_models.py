import pytest
import torch

from jointist.audio.features import HarmonicSpectrogram
from jointist.models.film import FiLM
from jointist.models.pitchwise import PitchwiseTranscriber
from jointist.models.serialize import CheckpointError, load_model, save_model
from jointist.models.transcriber import OnsetsFramesTranscriber
from tests.conftest import sine_notes

TINY = dict(shared_channels=(4,), features=32, rnn_hidden=16, film_layers=1, dropout=0.0)
TINY_PITCHWISE = dict(harmonics=(0.5, 1, 2), trunk_channels=(4, 8), dilations=(1, 2), head_channels=8, film_layers=2,
                      dropout=0.0)
KINDS = ["pitchwise", "mel"]


def tiny(kind: str = "mel", **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "pitchwise":
        return PitchwiseTranscriber(**{**TINY_PITCHWISE, **overrides}).eval()
    return OnsetsFramesTranscriber(**{**TINY, **overrides}).eval()


@pytest.mark.parametrize("kind", KINDS)
def test_output_shapes_for_several_instruments_at_once(kind):
    model = tiny(kind)
    audio = torch.randn(2, 16_000)
    out = model(audio, torch.tensor([[0, 10, 38], [5, 9, 1]]))
    assert out.onset.shape == out.frame.shape == (2, 3, 101, 88)


def test_pitchwise_agnostic_head_and_features_shapes():
    model = tiny("pitchwise")
    features = model.features(torch.randn(2, 8_000))
    assert features.shape == (2, 8, 51, 88)
    agnostic = model.agnostic(features)
    assert agnostic.onset.shape == agnostic.frame.shape == (2, 51, 88)


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


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("film", ["full", "bias"])
def test_batched_conditioning_equals_one_at_a_time(kind, film):
    model = tiny(kind, film=film)
    with torch.no_grad():  # make the condition matter: FiLM starts as the identity
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
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


def test_paper_layout_builds_and_runs():
    model = OnsetsFramesTranscriber(shared_channels=(), branch_channels=(4, 4), features=16, rnn_hidden=8, film_layers=0).eval()
    out = model(torch.randn(1, 4_000), torch.tensor([[1, 2]]))
    assert out.frame.shape == (1, 2, 26, 88)


@pytest.mark.parametrize("kind", KINDS)
def test_checkpoint_round_trip_gives_identical_outputs(tmp_path, kind):
    model = tiny(kind) if kind == "pitchwise" else tiny(kind, frontend="cqt")
    path = save_model(model, tmp_path / "m.pt", extra={"decode": {"onset_threshold": 0.3}})
    loaded, extra = load_model(path)
    audio = torch.randn(1, 8_000)
    with torch.no_grad():
        a, b = model(audio, torch.tensor([[2, 38]])), loaded(audio, torch.tensor([[2, 38]]))
    assert torch.equal(a.onset, b.onset) and torch.equal(a.frame, b.frame)
    assert extra == {"decode": {"onset_threshold": 0.3}} and loaded.config == model.config
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_missing_and_corrupt_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(bad)
    torch.save({"weights": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="does not describe a jointist model"):
        load_model(tmp_path / "foreign.pt")
    save_model(tiny(), tmp_path / "ok.pt")
    payload = torch.load(tmp_path / "ok.pt", weights_only=True)
    payload["config"]["features"] = 64
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(tmp_path / "mismatch.pt")
