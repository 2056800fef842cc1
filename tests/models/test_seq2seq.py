"""The seq2seq transcriber (T5-style encoder-decoder, MT3): shapes, causality, cached and restricted
greedy decoding, multi-channel decoding, overfitting one clip, model files and the shipped sizes."""

from __future__ import annotations

import time

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from hydra.utils import instantiate

from jointist.models.seq2seq import EOS_ID, PAD_ID, SEGMENT_FRAMES, SEGMENT_SAMPLES, Seq2SeqTranscriber, shift_right
from jointist.models.serialize import load_models, save_models
from tests.conftest import model_config, perturb, tiny_model

VOCAB = 1391


def tiny(**overrides: object) -> Seq2SeqTranscriber:
    """conf/model/seq2seq_tiny.yaml (seeded), in eval mode."""
    model = tiny_model("Seq2SeqTranscriber", **overrides)
    assert isinstance(model, Seq2SeqTranscriber)
    return model.eval()


def noise(batch: int, *, seed: int = 0, samples: int = SEGMENT_SAMPLES) -> torch.Tensor:
    return 0.1 * torch.randn(batch, samples, generator=torch.Generator().manual_seed(seed))


def random_ids(shape: tuple[int, ...], *, seed: int = 0) -> torch.Tensor:
    """Event ids (no PAD, EOS or UNK)."""
    return torch.randint(3, VOCAB, shape, generator=torch.Generator().manual_seed(seed))


def test_shift_right_starts_with_pad():
    targets = torch.tensor([[5, 6, 7, EOS_ID], [8, EOS_ID, PAD_ID, PAD_ID]])
    assert shift_right(targets).tolist() == [[PAD_ID, 5, 6, 7], [PAD_ID, 8, EOS_ID, PAD_ID]]


def test_a_segment_is_256_frames_and_logits_cover_the_vocabulary():
    model = tiny()
    assert SEGMENT_SAMPLES == model.segment_samples == 32_768 and model.segment_frames == SEGMENT_FRAMES
    audio = noise(2)
    with torch.no_grad():
        assert model.spectrogram(audio).shape == (2, SEGMENT_FRAMES, 512)
        memory = model.encode(audio)
        logits = model(audio, random_ids((2, 11)))
    assert memory.shape == (2, SEGMENT_FRAMES, 32)
    assert logits.shape == (2, 11, VOCAB) and torch.isfinite(logits).all()
    silence = model.spectrogram(torch.zeros(1, SEGMENT_SAMPLES))
    assert torch.allclose(silence, torch.zeros_like(silence), atol=1e-5)  # fixed scaling: silence is 0


def test_the_decoder_is_causal():
    model = perturb(tiny())
    audio, decoder_input = noise(2), shift_right(random_ids((2, 12)))
    t = 7
    changed = decoder_input.clone()
    changed[:, t] = (changed[:, t] + 100) % VOCAB
    with torch.no_grad():
        before, after = model(audio, decoder_input), model(audio, changed)
    assert torch.allclose(before[:, :t], after[:, :t], atol=1e-6)
    assert not torch.allclose(before[:, t], after[:, t], atol=1e-3)  # position t sees its own input


@pytest.mark.parametrize("channels", [0, 3])
@pytest.mark.parametrize("restricted", [False, True])
def test_generation_with_the_cache_equals_generation_without(channels, restricted):
    model = tiny(channels=channels)
    batch = 4
    channel = torch.tensor([0, 1, 2, 0]) if channels else None
    allowed = None
    if restricted:  # per sequence; the first one may only end, so it leaves the batch at once
        allowed = torch.rand(batch, VOCAB, generator=torch.Generator().manual_seed(1)) < 0.3
        allowed[0] = False
    with torch.no_grad():
        memory = model.encode(noise(batch))
    cached = model.generate(max_tokens=40, memory=memory, channel=channel, allowed=allowed)
    recomputed = model.generate(max_tokens=40, memory=memory, channel=channel, allowed=allowed, use_cache=False)
    assert cached.shape == (batch, 40) and torch.equal(cached, recomputed)
    assert len(set(cached[1].tolist())) > 1  # a random model does not emit one token only
    if restricted:
        assert cached[0].tolist() == [EOS_ID] + [PAD_ID] * 39


def test_restricted_decoding_never_emits_a_banned_token():
    model = perturb(tiny(), scale=0.5)
    allowed = torch.rand(VOCAB, generator=torch.Generator().manual_seed(2)) < 0.1  # 90 % banned
    allowed[EOS_ID] = False  # EOS stays allowed all the same
    ids = model.generate(noise(3), max_tokens=60, allowed=allowed)
    unrestricted = model.generate(noise(3), max_tokens=60)
    assert not allowed[unrestricted].all()  # the ban changes what this model would emit
    for row in ids.tolist():
        end = row.index(EOS_ID) + 1 if EOS_ID in row else len(row)
        assert all(allowed[i] for i in row[: end - 1]) and all(i == PAD_ID for i in row[end:])
        assert row[end - 1] == EOS_ID or allowed[row[end - 1]]


def test_channels_change_the_logits_and_are_required_iff_the_model_has_them():
    model = perturb(tiny(channels=4))
    audio, decoder_input = noise(1).expand(2, -1), shift_right(random_ids((1, 6))).expand(2, -1)
    with torch.no_grad():
        logits = model(audio, decoder_input, channel=torch.tensor([0, 3]))
    assert not torch.allclose(logits[0], logits[1], atol=1e-3)
    with pytest.raises(ValueError, match="channels=4|decodes 4 channels"):
        model(audio, decoder_input)
    with pytest.raises(ValueError, match="channel indices"):
        model(audio, decoder_input, channel=torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="decodes 4 channels"):
        model.generate(audio, max_tokens=3)
    single = tiny()
    with pytest.raises(ValueError, match="channels=0"):
        single(audio, decoder_input, channel=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="channels=0"):
        single.generate(audio, max_tokens=3, channel=torch.tensor([0, 1]))


def test_one_encoding_decodes_every_channel_of_every_segment():
    model = perturb(tiny(channels=3))
    audio = noise(2)
    with torch.no_grad():
        memory = model.encode(audio).repeat_interleave(3, dim=0)  # segment-major: (s0 c0, s0 c1, ...)
    channel = torch.arange(3).repeat(2)
    together = model.generate(max_tokens=20, memory=memory, channel=channel)
    alone = model.generate(audio[1:], max_tokens=20, channel=torch.tensor([2]))
    assert torch.equal(together[5, : alone.shape[1]], alone[0])


def test_a_tiny_model_overfits_one_clip_and_generates_its_tokens():
    started = time.perf_counter()
    torch.manual_seed(0)
    model = tiny_model("Seq2SeqTranscriber")
    audio = noise(1, seed=3)
    targets = torch.cat([random_ids((1, 24), seed=4), torch.tensor([[EOS_ID]])], dim=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        loss = F.cross_entropy(model(audio, shift_right(targets)).transpose(1, 2), targets, ignore_index=PAD_ID)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    model.eval()
    assert model.generate(audio, max_tokens=64).tolist() == targets.tolist()
    assert time.perf_counter() - started < 20.0


def test_the_model_round_trips_through_a_model_file(tmp_path):
    model = perturb(tiny(channels=2, tie_embeddings=True))
    card = model.card(trained_steps=3, notes="seq2seq round trip")
    path = save_models({"seq2seq": (model, card)}, tmp_path / "model.pt")
    loaded, loaded_card = load_models(path)["seq2seq"]
    assert isinstance(loaded, Seq2SeqTranscriber) and loaded.init_args == model.init_args and loaded_card == card
    assert loaded.init_args["channels"] == 2 and loaded.init_args["tie_embeddings"] is True
    audio, decoder_input, channel = noise(2), shift_right(random_ids((2, 9))), torch.tensor([1, 0])
    with torch.no_grad():
        assert torch.equal(model(audio, decoder_input, channel=channel), loaded(audio, decoder_input, channel=channel))
    assert torch.equal(model.generate(audio, max_tokens=16, channel=channel),
                       loaded.generate(audio, max_tokens=16, channel=channel))


def test_the_default_config_fits_in_20_mb_and_mt3_has_its_sizes():
    default = instantiate(model_config("seq2seq"), _convert_="object")
    parameters = sum(p.numel() for p in default.parameters())
    assert parameters * 4 < 20e6 and parameters < 5_000_000
    mt3 = instantiate(model_config("seq2seq_mt3"), _convert_="object")
    assert isinstance(mt3, Seq2SeqTranscriber) and mt3.role == "seq2seq"
    assert len(mt3.encoder) == len(mt3.decoder) == 8 and mt3.d_model == 512 and mt3.output is not None
    attention = mt3.decoder[0].self_attention
    assert (attention.n_heads, attention.d_kv, mt3.encoder[0].ff.wi_0.out_features) == (6, 64, 1024)
    assert default.vocab_size == mt3.vocab_size == tiny().vocab_size == VOCAB
