"""Adaptive temperature (temperature_schedule: adaptive): real training runs through the API."""
import json

import spinlock_spec as ss

SPEC = """
dataset: {synthetic: {n_samples: 600, n_groups: 6, features_per_group: 5, seed: 0}}
families: {summary: {encoder: identity}}
model: {group_embedding_dim: 8, group_hidden_dim: 16}
training: {batch_size: 200, num_epochs: 12, category_assignment: learnable, num_categories_auto: 6,
           device: cpu}
learnable_assignment: {temperature_schedule: adaptive, adaptive_threshold: 0.5, adaptive_patience: 2}
random_seed: 0
"""


def test_adaptive_temperature_freezes_and_holds(tmp_path):
    result = ss.train(SPEC, out=tmp_path / "run", quiet=True)
    h = result.history
    frozen = h.get("temperature_frozen_epoch")
    assert frozen is not None and frozen < 12
    temps = h["temperature"]
    assert temps[frozen - 1] > 0.1                    # frozen above temperature_end
    assert all(t == temps[frozen - 1] for t in temps[frozen - 1:])   # held afterwards
    assert temps[frozen - 2] > temps[frozen - 1]      # annealed (linearly) before the freeze
    lines = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    notes = [n for rec in lines for n in rec.get("assignment_notes", [])]
    assert any(n.strip().startswith(f"Temperature frozen at epoch {frozen} (assignment stable for 2 epochs")
               for n in notes)
    state = json.loads((tmp_path / "run" / "checkpoint.json").read_text())["adaptive_temperature"]
    assert state["frozen"] and state["epoch"] == frozen


def test_linear_schedule_never_freezes(tmp_path):
    result = ss.train(SPEC.replace("adaptive,", "linear,"), out=tmp_path / "run", quiet=True, epochs=4)
    assert "temperature_frozen_epoch" not in result.history
    assert result.history["temperature"][-1] < result.history["temperature"][0]


def test_adaptive_state_survives_resume(tmp_path):
    ss.train(SPEC, out=tmp_path / "run", quiet=True, epochs=12)
    meta = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    frozen = meta["adaptive_temperature"]["epoch"]
    resumed = ss.train(resume=tmp_path / "run", epochs=14, quiet=True)
    temps = resumed.history["temperature"]
    assert resumed.history["temperature_frozen_epoch"] == frozen
    assert temps[-1] == temps[frozen - 1]


def test_adaptive_ends_like_a_full_linear_anneal(tmp_path):
    """Freezing early costs nothing: the final hard assignment is the linear anneal's, or
    its ARI against the planted groups is at least as good."""
    adaptive = ss.train(SPEC, out=tmp_path / "adaptive", quiet=True)
    linear = ss.train(SPEC.replace("adaptive,", "linear,"), out=tmp_path / "linear", quiet=True)
    assert adaptive.history["temperature_frozen_epoch"] < len(adaptive.history["temperature"])
    same = adaptive.model.hard_assignment().tolist() == linear.model.hard_assignment().tolist()
    ari_a = adaptive.history["final_metrics"]["ari"]
    ari_l = linear.history["final_metrics"]["ari"]
    assert same or ari_a >= ari_l, (ari_a, ari_l)
