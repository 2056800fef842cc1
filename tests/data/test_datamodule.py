from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from jointist.cli import CONF_DIR
from jointist.data.datamodule import SlakhDataModule
from jointist.data.slakh import ExampleBatch
from tests.conftest import write_track


@pytest.fixture
def three_splits(hand_corpus: Path) -> Path:
    for split in ("validation", "test"):
        write_track(hand_corpus / split, "Track00010", {"S00": {"program": 0, "notes": [(0.5, 1.5, 60)]}})
    return hand_corpus


@pytest.mark.parametrize("name", ["synth", "slakh2100"])
def test_data_configs_instantiate_the_datamodule(three_splits, name, monkeypatch):
    monkeypatch.setenv("SLAKH2100_ROOT", str(three_splits))
    monkeypatch.setenv("JOINTIST_SYNTH_ROOT", str(three_splits))
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"data={name}", "seed=5", "data.segment_s=1.0", "data.batch_size=2",
                                          "data.num_workers=0", "data.train_examples_per_epoch=4"])
    dm = instantiate(cfg.data)
    assert isinstance(dm, SlakhDataModule) and dm.root == three_splits and dm.seed == 5
    dm.setup()
    train = list(dm.train_dataloader())
    assert len(train) == 2 and isinstance(train[0], ExampleBatch)
    assert train[0].mix.shape == (2, 16_000) and train[0].present.shape == (2, 39)
    val = list(dm.val_dataloader())
    assert sum(len(b) for b in val) == 2  # two fixed 1 s windows of the 4 s validation track
    assert sum(len(b) for b in dm.test_dataloader()) == 2


def test_training_windows_change_with_the_epoch_but_repeat_with_the_seed(three_splits):
    def starts(epoch: int, seed: int) -> list[float]:
        dm = SlakhDataModule(three_splits, segment_s=1.0, batch_size=2, num_workers=0, train_examples_per_epoch=4, seed=seed)
        dm.setup("fit")
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(epoch)
        return [e.start_s for batch in loader for e in batch.examples]

    assert starts(0, 0) == starts(0, 0)
    assert starts(0, 0) != starts(1, 0)
    assert starts(0, 0) != starts(0, 1)
