"""Learnable assignment fixes a wrong mapping (issue 4, quality acceptance line).

Planted data: N=2500 rows, 6 groups of 10 summary features, 20 epochs.  The mapping file puts
15 of the 60 features (25%, fixed RNG) in a wrong category: initial ARI ~0.49.
Learnable training from that mapping must move them back (ARI vs the planted groups
>= 0.95 and above the initial ARI, and every wrongly mapped feature back with the
majority of its planted group: issue 16) and reconstruct at least as well as static mode
trained on the same wrong mapping for the same epochs.

Quality tolerance 0.005 (learnable may be at most 0.005 below static): about twice the
run-to-run spread of a run over seeds.  Measured here: static 0.863, learnable 0.912
(ARI 1.0 from epoch 2; 15 features moved) before issue 16; since then the logits
are held for the first fifth of the run and the moves come after it (ARI 1.0 from epoch 8,
15 features moved).  Learnable without the fix (credit_mask 0,
schema init scale 3.0) reached ARI 0.56-0.84 with quality 0.88-0.91, so the ARI line is
the one that fails when the mechanism breaks (2500 rows, 20 epochs, credit off: ARI 0.58,
12 of 15 left behind).  The two runs take ~12 s on one CPU thread.
"""
from __future__ import annotations

import json

import numpy as np
import torch
import pytest

import spinlock_spec as ss
from spinlock_spec.data.synthetic import generate_synthetic
from spinlock_spec.train.metrics import adjusted_rand_index

N_GROUPS = 6
DATASET = {"n_samples": 2500, "n_groups": N_GROUPS, "features_per_group": 10, "seed": 1}
SPEC = """
dataset: {synthetic: {n_samples: 2500, n_groups: 6, features_per_group: 10, seed: 1}}
families: {summary: {encoder: identity}}
training: {batch_size: 256, num_epochs: 20, learning_rate: 0.003, category_assignment: MODE,
           category_mapping_file: MAPPING}
random_seed: 0
"""
QUALITY_TOLERANCE = 0.005


def _wrong_mapping(path) -> tuple[np.ndarray, np.ndarray]:
    """(true groups, wrong labels) per summary column; writes the mapping file."""
    groups = np.asarray(generate_synthetic(dict(DATASET), ["summary"]).true_groups["summary"])
    rng = np.random.default_rng(0)
    n = len(groups)
    wrong = rng.choice(n, size=n // 4, replace=False)
    labels = groups.copy()
    labels[wrong] = (groups[wrong] + rng.integers(1, N_GROUPS, size=len(wrong))) % N_GROUPS
    mapping = {f"cat{c}": [int(i) for i in np.flatnonzero(labels == c)] for c in range(N_GROUPS)}
    path.write_text(json.dumps(mapping))
    return groups, labels


def _left_behind(run_dir, groups, labels) -> list[int]:
    """Wrongly mapped features that do not share their learned category with the majority
    of their planted group (categories.json of the run)."""
    cats = json.loads((run_dir / "categories.json").read_text())
    learned = np.full(len(groups), -1)
    for cat in cats["categories"]:
        for feat in cat["features"]:
            learned[feat["index"]] = cat["index"]
    out = []
    for f in np.flatnonzero(groups != labels):
        members = learned[groups == groups[f]]
        if learned[f] != np.bincount(members[members >= 0]).argmax():
            out.append(int(f))
    return out


def _spec(mode: str, mapping) -> str:
    return SPEC.replace("MODE", mode).replace("MAPPING", str(mapping))


def test_learnable_moves_wrongly_mapped_features_back(tmp_path):
    mapping = tmp_path / "mapping.json"
    groups, labels = _wrong_mapping(mapping)
    assert int((groups != labels).sum()) == 15
    initial_ari = adjusted_rand_index(groups, labels)
    assert 0.4 < initial_ari < 0.6

    static = ss.train(_spec("manual", mapping), out=tmp_path / "static", quiet=True, progress=False)
    learn = ss.train(_spec("learnable", mapping), out=tmp_path / "learnable", quiet=True, progress=False)

    # both runs start from the same wrong categories
    assert learn.initial_ari is not None and abs(learn.initial_ari - initial_ari) < 1e-9
    assert static.initial_ari is not None and abs(static.initial_ari - initial_ari) < 1e-9
    assert abs(static.history["final_metrics"]["ari"] - initial_ari) < 1e-9     # static keeps them

    final = learn.history["final_metrics"]
    assert final["ari"] >= 0.95, (final["ari"], learn.history.get("assignment_ari"))
    assert not _left_behind(learn.run_dir, groups, labels), _left_behind(learn.run_dir, groups, labels)
    assert final["ari"] > initial_ari
    # per-epoch tracking: ARI vs planted groups and features moved, in history and metrics.jsonl
    assert len(learn.history["assignment_ari"]) == 20
    assert learn.history["assignment_ari"][-1] == final["ari"]
    assert learn.history["features_moved"][-1] >= 12
    records = [json.loads(line) for line in (learn.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["assignment_ari"] == final["ari"] and "features_moved" in records[-1]

    q_static = static.history["final_metrics"]["quality"]
    assert final["quality"] >= q_static - QUALITY_TOLERANCE, (final["quality"], q_static)

    # the run folder's categories are the learned (hard) ones
    cats = json.loads((learn.run_dir / "categories.json").read_text())
    learned = np.full(len(groups), -1)
    for cat in cats["categories"]:
        for feat in cat["features"]:
            learned[feat["index"]] = cat["index"]
    assert adjusted_rand_index(groups, learned) == final["ari"]



@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_every_wrongly_mapped_feature_moves_on_the_larger_planted_case(tmp_path, seed):
    """benchmarks/planted_wrong.py's case: 6 groups x 12 features, 18 of 72 in a wrong
    category (mapping RNG ``seed``), 30 epochs; every one of the 18 must move back (the
    issue's held-out check stopped at 17).  Measured: 18 of 18 for seeds 0 and 1, by epoch 9."""
    ds = {"n_samples": 5000, "n_groups": 6, "features_per_group": 12, "seed": 1}
    groups = np.asarray(generate_synthetic(dict(ds), ["summary"]).true_groups["summary"])
    rng = np.random.default_rng(seed)
    wrong = rng.choice(len(groups), size=len(groups) // 4, replace=False)
    labels = groups.copy()
    labels[wrong] = (groups[wrong] + rng.integers(1, 6, size=len(wrong))) % 6
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({f"cat{c}": [int(i) for i in np.flatnonzero(labels == c)] for c in range(6)}))
    spec = (_spec("learnable", mapping).replace("features_per_group: 10", "features_per_group: 12")
            .replace("n_samples: 2500", "n_samples: 5000").replace("num_epochs: 20", "num_epochs: 30"))
    learn = ss.train(spec, out=tmp_path / "run", quiet=True, progress=False)
    assert int((groups != labels).sum()) == 18
    assert _left_behind(learn.run_dir, groups, labels) == []
    assert learn.history["final_metrics"]["ari"] == 1.0


def test_learnable_with_its_logits_held_trains_static_modes_model_bit_for_bit(tmp_path):
    """The batch is never masked (the credit is measured in a side pass with its own random
    stream), the hard forward pass uses exactly 0/1 memberships, the loss is static mode's MSE
    and the clipping norm leaves out the probe's gradients: with nothing moved, learnable
    mode's model is static mode's on CPU, weight for weight (docs/decisions.md §10a)."""
    from safetensors.torch import load_file

    spec = """
dataset: {synthetic: {n_samples: 700, n_groups: 3, features_per_group: 4, seed: 2}}
families: {summary: {encoder: identity}}
training: {batch_size: 64, num_epochs: 3, category_assignment: MODE, num_categories_auto: 3, device: cpu}
learnable_assignment: {assignment_warmup_epochs: 3}
"""
    weights, quality = {}, {}
    for mode in ("auto", "learnable"):
        res = ss.train(spec.replace("MODE", mode), out=tmp_path / mode, quiet=True, progress=False)
        weights[mode] = load_file(tmp_path / mode / "final_model.safetensors")
        quality[mode] = res.history["final_metrics"]["quality"]
        model = res.model
    assert quality["learnable"] == quality["auto"]
    held = model.assignment_matrix(hard=True).t().bool()              # [K, F]
    static, learn = weights["auto"], weights["learnable"]
    for name, tensor in static.items():
        other = learn[name]
        if name == "dec_out.weight":          # the probe trains the outputs of features not held
            tensor, other = tensor.permute(0, 2, 1)[held], other.permute(0, 2, 1)[held]
        elif name == "dec_out.bias":
            tensor, other = tensor[held], other[held]
        elif name == "enc_in.weight":         # learnable starts the inputs of features not held at 0
            assert other[~held].abs().sum() == 0
            tensor, other = tensor[held], other[held]
        assert torch.equal(tensor, other), name
    # and the probe did train the outputs of the features a category does not hold
    assert not torch.equal(static["dec_out.weight"], learn["dec_out.weight"])
