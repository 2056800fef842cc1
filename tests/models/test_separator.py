"""The FiLM U-Net separator: shapes, conditioning, posteriorgram fusion, the STFT round trip, the
harmonic template and the per-clip encoder."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from jointist.models.base import SeparatorModel
from jointist.models.film import FiLM
from jointist.models.separator import FiLMUNetSeparator, harmonic_template
from tests.conftest import model_config, perturb, sine_notes, tiny_model

NAME = "FiLMUNetSeparator"


def inputs(batch: int = 1, k: int = 3, samples: int = 8_000, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Noise audio, instruments (batch, k) and a random posteriorgram (batch, k, frames, 88)."""
    g = torch.Generator().manual_seed(seed)
    audio = torch.randn(batch, samples, generator=g)
    instruments = torch.randint(0, 39, (batch, k), generator=g)
    posteriorgram = torch.rand(batch, k, samples // 160 + 1, 88, generator=g)
    return audio, instruments, posteriorgram


@pytest.mark.parametrize("samples", [16_000, 8_123])  # any length: time is padded to 2^levels and cropped back
def test_stems_and_masks_for_several_instruments_at_once(samples):
    model = tiny_model(NAME).eval()
    assert isinstance(model, SeparatorModel)
    audio, instruments, posteriorgram = inputs(2, 3, samples)
    with torch.no_grad():
        features = model.features(audio)
        masks = model.masks(features, instruments, posteriorgram)
        stems = model.heads(features, instruments, posteriorgram)
        assert torch.equal(stems, model(audio, instruments, posteriorgram))
    assert stems.shape == (2, 3, samples)
    assert masks.shape == (2, 3, samples // 160 + 1, 513)
    assert 0.4 < masks.min() and masks.max() < 0.6  # a new model's masks start near 0.5


@pytest.mark.parametrize("shared_encoder", [True, False])
@pytest.mark.parametrize("film", ["full", "bias"])
def test_batched_conditioning_equals_one_at_a_time(shared_encoder, film):
    model = perturb(tiny_model(NAME, film=film, shared_encoder=shared_encoder)).eval()
    audio, instruments, posteriorgram = inputs(1, 3)
    with torch.no_grad():
        together = model(audio, instruments, posteriorgram)
        for j in range(3):
            alone = model(audio, instruments[:, j: j + 1], posteriorgram[:, j: j + 1])
            assert torch.allclose(together[0, j], alone[0, 0], atol=1e-5)
        same_notes = model(audio, instruments, posteriorgram[:, :1].expand(-1, 3, -1, -1))
    assert not torch.allclose(same_notes[0, 0], same_notes[0, 1], atol=1e-4)  # the instrument alone changes the stem


def test_film_layers_are_the_identity_when_freshly_built():
    model = tiny_model(NAME, film="full").eval()
    films = [m for m in model.modules() if isinstance(m, FiLM)]
    assert len(films) == len(model.decoder) + 1  # one per decoder level and the centre's (tiny: one conv per block)
    assert all(int(torch.count_nonzero(p.detach())) == 0 for film in films for p in film.parameters())
    plain = tiny_model(NAME, film="none").eval()  # the same weights without FiLM layers
    missing = set(model.state_dict()) - set(plain.state_dict())
    assert missing and all(".film" in key for key in missing)
    model.load_state_dict(plain.state_dict(), strict=False)
    audio, instruments, posteriorgram = inputs(1, 2)
    with torch.no_grad():
        assert torch.equal(model(audio, instruments, posteriorgram), plain(audio, instruments, posteriorgram))


@pytest.mark.parametrize("shared_encoder", [True, False])
@pytest.mark.parametrize("binarize", [False, True])
@pytest.mark.parametrize("fusion", ["sum", "concat", "harmonic"])
def test_every_fusion_mode_passes_gradients_to_the_posteriorgram(fusion, binarize, shared_encoder):
    model = tiny_model(NAME, fusion=fusion, binarize=binarize, threshold=0.3, shared_encoder=shared_encoder)
    audio, instruments, posteriorgram = inputs(2, 2)
    posteriorgram.requires_grad_()
    stems = model(audio, instruments, posteriorgram)
    (stems - audio[:, None]).abs().mean().backward()
    assert posteriorgram.grad is not None and posteriorgram.grad.abs().sum() > 0
    if binarize:  # the forward pass sees the thresholded rolls, the gradient went straight through
        model.eval()
        with torch.no_grad():
            hard = (posteriorgram > 0.3).float()
            assert torch.equal(model(audio, instruments, posteriorgram.detach()), model(audio, instruments, hard))


def test_without_fusion_the_posteriorgram_is_optional_and_fusion_needs_one():
    model = tiny_model(NAME, fusion="none").eval()
    audio, instruments, posteriorgram = inputs(1, 2)
    with torch.no_grad():
        assert model(audio, instruments, None).shape == (1, 2, 8_000)
    fused = tiny_model(NAME, fusion="concat").eval()
    with pytest.raises(ValueError, match="needs the frame posteriorgram"):
        fused(audio, instruments, None)
    with pytest.raises(ValueError, match="posteriorgram must be"):
        fused(audio, instruments, posteriorgram[:, :, :-1])
    with pytest.raises(ValueError, match="fusion must be one of"):
        FiLMUNetSeparator(fusion="patch")


def test_a_mask_of_ones_gives_back_the_mixture():
    model = tiny_model(NAME).eval()
    audio = torch.randn(2, 12_345)
    with torch.no_grad():
        features = model.features(audio)
        ones = torch.ones(2, 3, features.spec.shape[1], 513)
        stems = model.reconstruct(features, ones)
        silent = model.reconstruct(features, torch.zeros_like(ones))
    assert stems.shape == (2, 3, 12_345)
    assert (stems - audio[:, None]).abs().max() < 1e-4
    assert silent.abs().max() == 0


def test_harmonic_template_puts_a_key_on_the_bins_of_its_partials():
    template = harmonic_template(n_partials=8)
    assert template.shape == (88, 513)
    a4 = template[69 - 21]  # 440 Hz; 15.625 Hz per bin
    assert int(a4[:40].argmax()) == round(440 / 15.625) == 28
    assert int(a4[40:70].argmax()) + 40 == round(880 / 15.625) == 56
    assert a4[28] > a4[56] > a4[84] > 0  # partial h weighs 1 / h
    assert a4[:26].abs().sum() == 0 and a4[31:55].abs().sum() == 0  # nothing below or between the partials
    c8 = template[-1]  # 4186 Hz: only its first partial is below Nyquist (8 kHz)
    assert int(c8.argmax()) == round(4186.0 / 15.625) and c8[300:].abs().sum() == 0
    model = tiny_model(NAME, fusion="harmonic", n_partials=8)
    assert torch.equal(model.template, template[:, :512])
    assert "template" not in model.state_dict()  # rebuilt from the arguments, not stored in model files


@pytest.mark.parametrize("shared", [True, False])
def test_a_shared_encoder_runs_once_per_clip_whatever_the_number_of_instruments(shared):
    model = tiny_model(NAME, shared_encoder=shared).eval()
    rows: dict[str, list[int]] = {"encoder": [], "decoder": []}  # rows seen by the first block of each
    model.encoder[0].register_forward_hook(lambda m, i, o: rows["encoder"].append(i[0].shape[0]))
    model.decoder[0].register_forward_hook(lambda m, i, o: rows["decoder"].append(i[0].shape[0]))
    audio, instruments, posteriorgram = inputs(1, 6)
    with torch.no_grad():
        features = model.features(audio)
        model.heads(features, instruments, posteriorgram)
        model.heads(features, instruments[:, :2], posteriorgram[:, :2])
    if shared:  # computed by features() once; heads() reuse the skip terms for 6 and then 2 instruments
        assert rows == {"encoder": [1], "decoder": [6, 2]}
        assert [s.shape[0] for s in features.skips] == [1] * len(model.encoder)
    else:  # the paper's layout: the conditioned encoder runs per instrument
        assert rows == {"encoder": [6, 2], "decoder": [6, 2]}


@pytest.mark.parametrize("name", ["separator", "separator_paper"])
def test_the_shipped_configs_build_and_run_on_a_short_input(name):
    model = instantiate(model_config(name), _convert_="object").eval()
    assert isinstance(model, FiLMUNetSeparator) and model.role == "separator"
    assert model.shared_encoder is (name == "separator")
    audio, instruments, posteriorgram = inputs(1, 2, 4_000)
    with torch.no_grad():
        stems = model(audio, instruments, posteriorgram)
    assert stems.shape == (1, 2, 4_000) and torch.isfinite(stems).all()


def test_the_tiny_model_learns_to_separate_two_sines_guided_by_their_rolls():
    """40 Adam steps on one clip: each stem ends well above the 3 dB of the initial half-mixture."""
    first = torch.from_numpy(sine_notes([(0.0, 1.0, 60)], 1.0))
    second = torch.from_numpy(sine_notes([(0.0, 0.5, 67), (0.5, 1.0, 64)], 1.0))
    mix, target = (first + second)[None], torch.stack([first, second])[None]
    rolls = torch.zeros(1, 2, 101, 88)
    rolls[0, 0, :, 60 - 21] = 1
    rolls[0, 1, :50, 67 - 21] = rolls[0, 1, 50:, 64 - 21] = 1
    instruments = torch.tensor([[0, 10]])
    model = tiny_model(NAME)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(40):
        loss = (model(mix, instruments, rolls) - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        error = target - model.eval()(mix, instruments, rolls)
    sdr = 10 * torch.log10(target.square().sum(-1) / error.square().sum(-1))
    assert (sdr > 6.0).all(), sdr
