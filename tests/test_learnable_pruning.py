"""Category pruning (learnable_assignment.pruning): real training runs through the API."""
import json

import pytest
import torch

import spinlock_spec as ss
from spinlock_spec.data.synthetic import generate_synthetic
from spinlock_spec.errors import SpecError
from spinlock_spec.nn.model import FamilyInput, LearnableCategoricalVQVAE
from spinlock_spec.train.checkpoint import load_model
from spinlock_spec.train.config import PruningConfig
from spinlock_spec.train.pruning import (move_features, plan_merges, redundancy_shares, redundant_pairs,
                                         target_variance)

SYN = {"n_samples": 600, "n_groups": 6, "features_per_group": 5, "seed": 0}


def _write_nine_categories(path, synthetic: dict, first_half: int) -> None:
    """A mapping file of 9 categories over 6 planted groups: groups 0-2 split in two."""
    groups = generate_synthetic(dict(synthetic), ["summary"]).true_groups["summary"]
    cats = {}
    for g in range(6):
        cols = [int(i) for i, x in enumerate(groups) if x == g]
        if g < 3:
            cats[f"g{g}a"], cats[f"g{g}b"] = cols[:first_half], cols[first_half:]
        else:
            cats[f"g{g}"] = cols
    path.write_text(json.dumps(cats))


# balance_weight 0: the balance loss pulls every category towards mass 1/K and so works
# against emptying the surplus ones
def _spec(tmp_path, epochs=6, pruning="{enabled: true, min_mass: 0.07, patience: 1}"):
    _write_nine_categories(tmp_path / "map9.json", SYN, first_half=3)   # groups 0-2 split 3 + 2
    spec = tmp_path / "prune.yaml"
    spec.write_text(f"""
dataset: {{synthetic: {json.dumps(SYN)}}}
families: {{summary: {{encoder: identity}}}}
model: {{group_embedding_dim: 8, group_hidden_dim: 16}}
training: {{batch_size: 200, num_epochs: {epochs}, category_assignment: learnable,
           category_mapping_file: map9.json, device: cpu}}
learnable_assignment: {{balance_weight: 0, pruning: {pruning}}}
random_seed: 0
""")
    return spec


def test_pruning_shrinks_model_and_checkpoints_follow(tmp_path):
    # the mass rule alone: no merges, a concentration pull empties categories
    pruning = "{enabled: true, min_mass: 0.07, patience: 1, merge: false, concentration_weight: 0.25}"
    result = ss.train(str(_spec(tmp_path, pruning=pruning)), out=tmp_path / "run", quiet=True)
    model = result.model
    pruned = result.history.get("pruned_categories")
    assert pruned, "nothing was pruned"
    K = model.num_categories
    assert K < 9
    # every per-category tensor follows the smaller K
    assert model.assignment_logits.shape == (30, K)
    assert model.quantizer.codebook.shape[0] == K and model.enc_in.weight.shape[0] == K
    assert len(model.category_names) == K and len(model.categories) == K
    removed = {n for step in pruned for n in step["removed"]}
    assert not removed & set(model.category_names)
    lines = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    notes = [n for rec in lines for n in rec.get("assignment_notes", [])]
    assert any(n.strip().startswith("Pruned category_") and "assignment mass" in n for n in notes)
    # load_model rebuilds the pruned model; encode works on it
    loaded, _ = load_model(tmp_path / "run", which="final")
    assert loaded.num_categories == K and loaded.category_names == model.category_names
    x = torch.randn(5, 30)
    codes = loaded.encode({"summary": x})
    assert codes.shape[:2] == (5, K)
    assert torch.equal(codes, model.cpu().encode({"summary": x}))
    report = json.loads((tmp_path / "run" / "categories.json").read_text())
    assert report["num_categories"] == K


def test_pruning_off_by_default_keeps_all_categories(tmp_path):
    result = ss.train(str(_spec(tmp_path, epochs=2, pruning="{}")), out=tmp_path / "run", quiet=True)
    assert result.model.num_categories == 9
    assert "pruned_categories" not in result.history


def test_resume_after_pruning(tmp_path):
    spec = _spec(tmp_path, epochs=3)
    first = ss.train(str(spec), out=tmp_path / "run", quiet=True)
    K = first.model.num_categories
    assert K < 9
    resumed = ss.train(resume=tmp_path / "run", epochs=5, quiet=True)
    assert resumed.history["epochs"][-1] == 5
    assert resumed.model.num_categories <= K
    loaded, _ = load_model(tmp_path / "run", which="final")
    assert loaded.num_categories == resumed.model.num_categories


BIG = {"n_samples": 2000, "n_groups": 6, "features_per_group": 10, "seed": 0}


def _six_groups_spec(tmp_path, seed: int, mapping: str):
    """The planted-data run of docs/model.md (pruning): 6 groups of 10 features, 20 epochs,
    pruning on with its defaults but min_mass 0.05 and patience 2.  ``mapping``: "nine"
    (groups 0-2 split in halves of 5: categories 0+1, 2+3, 4+5) or "six" (the planted groups)."""
    if mapping == "nine":
        _write_nine_categories(tmp_path / "map.json", BIG, first_half=5)
    else:
        groups = generate_synthetic(dict(BIG), ["summary"]).true_groups["summary"]
        (tmp_path / "map.json").write_text(json.dumps(
            {f"g{g}": [int(i) for i, x in enumerate(groups) if x == g] for g in range(6)}))
    spec = tmp_path / "six_groups.yaml"
    spec.write_text(f"""
dataset: {{synthetic: {json.dumps(BIG)}}}
families: {{summary: {{encoder: identity}}}}
training: {{batch_size: 128, num_epochs: 20, learning_rate: 0.003, category_assignment: learnable,
           category_mapping_file: map.json, device: cpu}}
learnable_assignment: {{pruning: {{enabled: true, min_mass: 0.05, patience: 2}}}}
random_seed: {seed}
""")
    return spec


def _notes(run) -> list[str]:
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    return [n.strip() for rec in lines for n in rec.get("assignment_notes", [])]


# about 7 s a seed on an idle 2-core CPU (over a minute when the cores are shared)
@pytest.mark.parametrize("seed", [0, *(pytest.param(s, marks=pytest.mark.slow) for s in (1, 2, 3, 4))])
def test_pruning_removes_the_surplus_of_nine_categories_over_six_planted_groups(tmp_path, seed):
    """6 planted groups, 9 initial categories (three groups split in halves): each half
    explains most of what the other explains of its features, so the halves merge (the
    smaller into the larger, then it is pruned) and the run ends with 6-7 categories that
    match the planted groups (ARI >= 0.9), whatever the seed."""
    result = ss.train(str(_six_groups_spec(tmp_path, seed, "nine")), out=tmp_path / "run", quiet=True)
    assert result.initial_ari < 0.9                        # the split start is really wrong
    assert 6 <= result.model.num_categories <= 7
    assert result.history["final_metrics"]["ari"] >= 0.9
    # what merged are halves of one planted group, nothing else
    merged = result.history["merged_categories"]
    halves = [{f"category_{2 * g}", f"category_{2 * g + 1}"} for g in range(3)]
    assert merged and all({m["category"], m["into"]} in halves for m in merged)
    assert all(m["share"] >= 0.5 for m in merged)
    notes = [n for n in _notes(tmp_path / "run") if n.startswith("Merged category_")]
    assert len(notes) == len(merged) and "merge_threshold 50%" in notes[0]
    report = json.loads((tmp_path / "run" / "categories.json").read_text())
    assert report["num_categories"] == result.model.num_categories


def test_pruning_keeps_categories_of_genuinely_different_groups(tmp_path):
    """The same run started from the 6 planted groups: no two categories are redundant,
    nothing merges or is pruned."""
    result = ss.train(str(_six_groups_spec(tmp_path, 0, "six")), out=tmp_path / "run", quiet=True)
    assert result.model.num_categories == 6
    assert "merged_categories" not in result.history and "pruned_categories" not in result.history
    assert result.history["final_metrics"]["ari"] >= 0.9
    assert not any(n.startswith("Merged") for n in _notes(tmp_path / "run"))


def test_merge_waits_for_patience_and_the_count_survives_resume(tmp_path):
    """patience 2: a pair redundant after epoch 3 (the first measured epoch) is only counted;
    the count is in checkpoint.json, so the resumed epoch 4 merges it."""
    spec = _spec(tmp_path, epochs=3, pruning="{enabled: true, min_mass: 0.0, patience: 2}")
    first = ss.train(str(spec), out=tmp_path / "run", quiet=True)
    assert first.model.num_categories == 9 and "merged_categories" not in first.history
    meta = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    counted = meta["pruning"]["redundant"]
    assert counted and set(counted.values()) == {1}
    resumed = ss.train(resume=tmp_path / "run", epochs=4, quiet=True)
    merged = resumed.history["merged_categories"]
    assert {m["epoch"] for m in merged} == {4}
    def ids(m):
        return "+".join(str(i) for i in sorted(int(m[k].split("_")[1]) for k in ("category", "into")))

    assert {ids(m) for m in merged} <= set(counted)                # merged: the pairs counted before
    assert resumed.model.num_categories == 9 - len(merged)
    loaded, _ = load_model(tmp_path / "run", which="final")
    assert loaded.num_categories == resumed.model.num_categories


@pytest.mark.parametrize("merge", [True, False])
def test_merge_off_keeps_redundant_categories(tmp_path, merge):
    pruning = f"{{enabled: true, min_mass: 0.0, patience: 1, merge: {str(merge).lower()}}}"
    result = ss.train(str(_spec(tmp_path, epochs=4, pruning=pruning)), out=tmp_path / "run", quiet=True)
    assert (result.model.num_categories < 9) == merge
    assert ("merged_categories" in result.history) == merge


# ------------------------------------------------------------------ the merge rule itself
def _probe(owner_err: float, cross: dict[tuple[int, int], float], hard: list[int], rows: int = 10):
    """probe_error [K, F] summed over ``rows`` rows: mean error ``owner_err`` of a category on
    its own features, ``cross[(c, a)]`` of category c on category a's features, 1.0 (no better
    than the mean of a unit-variance feature) otherwise."""
    K = max(hard) + 1
    err = torch.ones(K, len(hard))
    for f, a in enumerate(hard):
        err[a, f] = owner_err
        for c in range(K):
            if (c, a) in cross:
                err[c, f] = cross[(c, a)]
    return err * rows, float(rows)


def test_redundancy_shares_measure_the_explained_variance_another_category_shares():
    hard = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    probe, rows = _probe(0.2, {(1, 0): 0.4, (0, 1): 0.5}, hard.tolist())
    shares = redundancy_shares(probe, rows, torch.ones(7), hard, torch.ones(7))
    # owner explains 1 - 0.2 = 0.8; category 1 explains 0.6 of category 0's, 0 0.5 of 1's
    assert shares[0, 1].item() == pytest.approx(0.75) and shares[1, 0].item() == pytest.approx(0.625)
    assert shares[0, 2].item() == pytest.approx(0.0) and shares[2, 0].item() == pytest.approx(0.0)
    assert torch.isnan(shares.diagonal()).all()
    assert redundant_pairs(shares, 0.5) == {(0, 1): pytest.approx(0.625)}
    assert redundant_pairs(shares, 0.7) == {}                       # both directions must pass
    # a larger feature variance is more to explain: the same errors share more
    assert redundancy_shares(probe, rows, torch.full((7,), 2.0), hard, torch.ones(7))[1, 0] > shares[1, 0]
    # a category holding a column the probe does not measure (encoded family) is left out
    ident = torch.tensor([1.0, 0.0, 1, 1, 1, 1, 1])
    partial = redundancy_shares(probe, rows, torch.ones(7), hard, ident)
    assert torch.isnan(partial[0]).all() and redundant_pairs(partial, 0.5) == {}
    # no rows measured yet: nothing
    assert torch.isnan(redundancy_shares(probe * 0, 0.0, torch.ones(7), hard, torch.ones(7))).all()


def test_merge_plan_sends_the_smaller_category_into_the_larger_once_per_epoch():
    pairs = {(0, 1): 0.6, (1, 2): 0.8, (3, 4): 0.7}
    plan = plan_merges(pairs, sizes=[2, 5, 3, 4, 4], max_merges=5)
    # (1, 2) is the most redundant and takes category 1 out of the (0, 1) merge this epoch
    assert [(m.source, m.target) for m in plan] == [(2, 1), (4, 3)]
    assert [m.share for m in plan] == [0.8, 0.7]
    assert len(plan_merges(pairs, sizes=[2, 5, 3, 4, 4], max_merges=1)) == 1
    assert plan_merges(pairs, sizes=[2, 5, 3, 4, 4], max_merges=0) == []


def test_move_features_swaps_the_logits_so_the_features_change_category():
    logits = torch.tensor([[3.0, 1.0, 0.0], [0.5, 2.0, 0.0], [4.0, -1.0, 1.0]])
    moved = move_features(logits, source=0, target=2)
    assert moved == [0, 2]
    assert logits.argmax(-1).tolist() == [2, 1, 2]
    assert logits[0].tolist() == [0.0, 1.0, 3.0] and logits[2].tolist() == [1.0, -1.0, 4.0]
    assert logits[1].tolist() == [0.5, 2.0, 0.0]                        # not a feature of category 0


def test_target_variance_is_the_variance_of_each_identity_column():
    fam = FamilyInput("summary", "identity", {}, "tabular", (6,))
    model = LearnableCategoricalVQVAE([fam], [[0, 1, 2], [3, 4, 5]], None, {})
    x = torch.randn(50, 6) * torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0, 0.1]) + 7.0
    var = target_variance(model, {"summary": x}, batch_size=16)       # several batches
    assert torch.allclose(var, x.double().var(0, unbiased=False).float(), rtol=1e-4)


def test_merge_threshold_is_validated():
    assert PruningConfig.from_dict({}).merge and PruningConfig.from_dict({}).merge_threshold == 0.5
    assert PruningConfig.from_dict({"merge_threshold": 0.8}).merge_threshold == 0.8
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(SpecError, match="merge_threshold"):
            PruningConfig.from_dict({"merge_threshold": bad})


@pytest.mark.parametrize("merge", [True, False])
def test_summary_describes_the_merge_rule_when_it_is_on(tmp_path, merge):
    from spinlock_spec.compile.summary import summary_text

    pruning = f"{{enabled: true, min_mass: 0.07, patience: 2, merge: {str(merge).lower()}, merge_threshold: 0.6}}"
    text = summary_text(ss.compile_spec(str(_spec(tmp_path, pruning=pruning))))
    assert "pruning: on" in text
    line = [ln for ln in text.splitlines() if "merge:" in ln]
    if merge:
        assert line and ">= 0.6" in line[0] and "for 2 epochs" in line[0]
    else:
        assert not line
