"""The style-transfer CycleGAN: networks, the training step, checkpoints (tiny configs)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from generation.ml.cyclegan import CycleGANConfig, CycleGANModel, generator_hash
from generation.ml.networks import define_D, define_G
from generation.ml.train_cyclegan import (
    TINY,
    rebuild_commands,
    style_facts,
    train_pair,
    write_pair_card,
)

torch.set_num_threads(1)


def _phrases(split: str, count: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """``count`` real phrases of two styles (uint8 rolls) from one split of the corpus."""
    from generation.music.corpus import load_corpus
    from generation.music.pianoroll import piece_to_phrases

    data = load_corpus()
    out = []
    for style in ("chorale", "german_folk"):
        rolls = []
        for _info, piece in data.iter(split=split, style=style):
            rolls.append((piece_to_phrases(piece, drop_empty=True).rolls > 0.5).astype(np.uint8))
            if sum(len(r) for r in rolls) >= count:
                break
        out.append(np.concatenate(rolls)[:count])
    return out[0], out[1]


@pytest.fixture(scope="module")
def banks() -> tuple[np.ndarray, np.ndarray]:
    """A few real training phrases of two styles, straight from the corpus."""
    return _phrases("train")


def _cycle_loss(model: CycleGANModel, a: torch.Tensor, b: torch.Tensor) -> float:
    with torch.no_grad():
        model.set_input(a, b)
        model.forward()
        return float(torch.nn.functional.l1_loss(model.rec_A, a)
                     + torch.nn.functional.l1_loss(model.rec_B, b))


def test_generator_keeps_the_phrase_shape_and_discriminator_scores_patches():
    x = torch.rand(3, 2, 84, 64)
    g = define_G("resnet", ngf=4, n_blocks=1)
    with torch.no_grad():
        y = g(x)
    assert y.shape == (3, 2, 84, 64)
    assert float(y.min()) > 0.0 and float(y.max()) < 1.0
    with torch.no_grad():
        assert define_D("patch", ndf=4)(y).shape == (3, 1, 21, 16)


def test_factories_refuse_unknown_network_names():
    with pytest.raises(ValueError, match="unknown generator"):
        define_G("unet")
    with pytest.raises(ValueError, match="unknown discriminator"):
        define_D("pixel")


def test_discriminators_get_no_gradient_from_the_generator_step():
    model = CycleGANModel(CycleGANConfig(**TINY))
    model.set_input(torch.rand(2, 2, 84, 64), torch.rand(2, 2, 84, 64))
    model.forward()
    from generation.ml.cyclegan import set_requires_grad

    set_requires_grad(model.discriminators, False)
    model.backward_G()
    assert all(p.grad is None for d in model.discriminators for p in d.parameters())
    assert all(p.grad is not None for p in model.G_A.parameters())
    losses = model.optimize_parameters()  # the full step leaves D trainable again
    assert all(p.requires_grad for d in model.discriminators for p in d.parameters())
    assert {"G_A_all", "D_B_all"} <= set(losses)


def test_mixed_discriminators_are_behind_a_flag():
    model = CycleGANModel(CycleGANConfig(**TINY, use_mixed_discriminators=False))
    model.set_input(torch.rand(2, 2, 84, 64), torch.rand(2, 2, 84, 64))
    losses = model.optimize_parameters()
    assert not hasattr(model, "D_A_all") and "G_A_all" not in losses
    assert len(model.discriminators) == 2


def test_one_tiny_epoch_on_real_phrases_lowers_the_cycle_loss(banks, tmp_path):
    bank_a, bank_b = banks
    a = torch.from_numpy(bank_a[:8].astype(np.float32))
    b = torch.from_numpy(bank_b[:8].astype(np.float32))
    before = _cycle_loss(CycleGANModel(CycleGANConfig("chorale", "german_folk", **TINY)), a, b)
    # 12 phrases a side at batch 2 = one epoch is 6 steps; run a few epochs of it
    summary = train_pair("chorale", "german_folk", max_steps=40, tiny=True, out_dir=tmp_path,
                         banks=banks, transpose=0, progress=False)
    after = _cycle_loss(CycleGANModel.load(tmp_path), a, b)
    assert summary["steps"] == 40
    assert after < before * 0.9
    rows = list(csv.DictReader((tmp_path / "loss.csv").open()))
    assert [int(r["step"]) for r in rows] == [10, 20, 30, 40]
    assert (tmp_path / "loss.png").stat().st_size > 1000


def test_a_checkpoint_reloads_to_identical_output_and_resumes(banks, tmp_path):
    train_pair("chorale", "german_folk", max_steps=3, tiny=True, out_dir=tmp_path,
               banks=banks, progress=False)
    model = CycleGANModel.load(tmp_path).eval()
    again = CycleGANModel.load(tmp_path).eval()
    x = torch.from_numpy(banks[0][:4].astype(np.float32))
    with torch.no_grad():
        assert torch.equal(model.G_A(x), again.G_A(x))
        assert torch.equal(model.G_B(x), again.G_B(x))
    assert model.meta["generator_hashes"]["G_A"] == generator_hash(model.G_A)
    assert model.config.style_facts["german_folk"] == style_facts(banks[1])

    summary = train_pair("chorale", "german_folk", max_steps=2, tiny=True, resume=True,
                         out_dir=tmp_path, banks=banks, progress=False)
    assert summary["steps"] == 5
    resumed = CycleGANModel.load(tmp_path)
    assert generator_hash(resumed.G_A) != generator_hash(model.G_A)


def test_a_resumed_run_may_change_the_loss_weights_and_records_its_runs(banks, tmp_path):
    train_pair("chorale", "german_folk", max_steps=10, tiny=True, out_dir=tmp_path,
               banks=banks, progress=False)
    assert float(next(iter(csv.DictReader((tmp_path / "loss.csv").open())))["cycle"]) > 0
    train_pair("chorale", "german_folk", max_steps=10, tiny=True, resume=True,
               out_dir=tmp_path, banks=banks, progress=False,
               config_overrides={"lambda_cycle": 0.0})
    model = CycleGANModel.load(tmp_path)
    assert model.config.lambda_cycle == 0.0
    rows = list(csv.DictReader((tmp_path / "loss.csv").open()))
    assert [int(r["step"]) for r in rows] == [10, 20]
    assert float(rows[-1]["cycle"]) == 0.0  # the resumed steps ran with the new weight
    assert [(r["steps"], r["lambda_cycle"], r["resume"]) for r in model.meta["runs"]] == [
        (10, 10.0, False), (10, 0.0, True)]
    cmds = rebuild_commands(model.meta)
    assert cmds == ("`python manage.py train_cyclegan --pair chorale:german_folk --steps 10`, "
                    "then `python manage.py train_cyclegan --pair chorale:german_folk --resume "
                    "--steps 10 --lambda-cycle 0`")
    # a checkpoint from before runs were recorded: one command, its minutes
    old = {"config": model.meta["config"], "train_seconds": 1380.3}
    assert rebuild_commands(old).endswith("--pair chorale:german_folk --minutes 23 "
                                          "--lambda-cycle 0`")
    card = write_pair_card(tmp_path).read_text()
    assert "Rebuild: " + cmds in card
    assert "lambda_cycle 0.0" in card and "Checkpoint choice" not in card
    with pytest.raises(ValueError, match="ngf"):
        train_pair("chorale", "german_folk", max_steps=1, tiny=True, resume=True,
                   out_dir=tmp_path, banks=banks, progress=False,
                   config_overrides={"ngf": 8})


def test_generator_for_names_the_direction():
    model = CycleGANModel(CycleGANConfig("chorale", "celtic", **TINY))
    assert model.generator_for("chorale", "celtic") is model.G_A
    assert model.generator_for("celtic", "chorale") is model.G_B
    with pytest.raises(KeyError):
        model.generator_for("chorale", "renaissance")


def test_resume_loads_only_the_optimizer_state_saved_with_that_checkpoint(banks, tmp_path):
    import shutil

    from generation.ml.train_cyclegan import _load_optimizer_state

    first, other = tmp_path / "a", tmp_path / "b"
    train_pair("chorale", "german_folk", max_steps=3, tiny=True, out_dir=first, banks=banks,
               progress=False)
    train_pair("chorale", "german_folk", max_steps=5, tiny=True, out_dir=other, banks=banks,
               progress=False)
    model = CycleGANModel.load(first)
    assert _load_optimizer_state(model, first)
    assert model.optimizer_G.state_dict()["state"]  # Adam's moments are back
    # the weights are swapped for another checkpoint's; the old moments must not be used
    for name in ("model.safetensors", "config.json"):
        shutil.copy(other / name, first / name)
    swapped = CycleGANModel.load(first)
    assert not _load_optimizer_state(swapped, first)
    assert not swapped.optimizer_G.state_dict()["state"]


def test_the_style_classifier_learns_two_real_styles_and_its_card_names_how(banks, tmp_path):
    import json

    from generation.ml.style_classifier import (
        StyleClassifier,
        StyleClassifierConfig,
        balanced_accuracy,
        train_classifier,
    )
    from generation.ml.train_cyclegan import write_classifier_card

    chorale, folk = (b.astype(np.float32) for b in banks)
    data = {"chorale": chorale, "german_folk": folk}
    config = StyleClassifierConfig(styles=["chorale", "german_folk"], width=4)
    model, rows = train_classifier(data, data, config, minutes=5, max_steps=100, seed=0)
    assert rows and rows[-1]["step"] == 100
    # four voices against one: even a tiny judge tells them apart after 100 steps, on
    # phrases of other pieces (the valid split) that it never trained on
    valid_chorale, valid_folk = (b.astype(np.float32) for b in _phrases("valid", 24))
    unseen = {"chorale": valid_chorale, "german_folk": valid_folk}
    assert len(valid_chorale) == len(valid_folk) == 24
    assert balanced_accuracy(model, unseen) >= 0.85
    metrics = {"valid_balanced_acc": 1.0, "test_balanced_acc": 1.0, "minutes": 5, "seed": 0,
               "steps": 100, "best_step": 50, "test_confusion": {},
               "phrases": {s: {"train": 12, "valid": 12, "test": 12} for s in data}}
    model.save(tmp_path, extra={"metrics": metrics})
    card = write_classifier_card(tmp_path).read_text()
    assert "--width 4 --seed 0" in card and "100 steps" in card and "step 50 kept" in card
    again = StyleClassifier.load(tmp_path)
    assert again.config.width == 4
    assert np.allclose(again.probabilities(folk), model.probabilities(folk), atol=1e-6)
    assert json.loads((tmp_path / "config.json").read_text())["metrics"]["steps"] == 100
