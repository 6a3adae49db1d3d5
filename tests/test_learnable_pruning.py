"""Category pruning (learnable_assignment.pruning): real training runs through the API."""
import json

import torch

import spinlock_spec as ss
from spinlock_spec.data.synthetic import generate_synthetic
from spinlock_spec.train.checkpoint import load_model

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
    result = ss.train(str(_spec(tmp_path)), out=tmp_path / "run", quiet=True)
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


def test_pruning_removes_the_surplus_of_nine_categories_over_six_planted_groups(tmp_path):
    """6 planted groups, 9 initial categories (three groups split in halves): the halves of a
    group merge under the concentration pull, the emptied ones are pruned, and the run ends
    with 6-7 categories that match the planted groups (ARI >= 0.9)."""
    syn = {"n_samples": 2000, "n_groups": 6, "features_per_group": 10, "seed": 0}
    _write_nine_categories(tmp_path / "map9.json", syn, first_half=5)
    spec = tmp_path / "nine.yaml"
    spec.write_text(f"""
dataset: {{synthetic: {json.dumps(syn)}}}
families: {{summary: {{encoder: identity}}}}
training: {{batch_size: 128, num_epochs: 20, learning_rate: 0.003, category_assignment: learnable,
           category_mapping_file: map9.json, device: cpu}}
learnable_assignment: {{pruning: {{enabled: true, min_mass: 0.05, patience: 2}}}}
random_seed: 0
""")
    result = ss.train(str(spec), out=tmp_path / "run", quiet=True)
    assert result.initial_ari < 0.9                        # the split start is really wrong
    assert 6 <= result.model.num_categories <= 7
    assert result.history["final_metrics"]["ari"] >= 0.9
    report = json.loads((tmp_path / "run" / "categories.json").read_text())
    assert report["num_categories"] == result.model.num_categories
