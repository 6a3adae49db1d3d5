"""Hybrid INITIAL encoding with learnable assignment (issue 6, item 1), and the fallback
to static assignment that stays for encoders registered as not learnable."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import spinlock_spec as ss
from spinlock_spec.compile.summary import summary_text
from spinlock_spec.registry import ENCODERS, TABULAR, Entry

ROOT = Path(__file__).resolve().parent.parent

# tiny: 400 rows, 3 field channels (channels, not realizations), 6 CNN columns
HYBRID = """
dataset:
  synthetic: {n_samples: 400, features_per_group: 3, field_channels: 3, seed: 3}
families:
  initial: {encoder: initial_hybrid, encoder_params: {cnn_embedding_dim: 6, channels: [8, 8]}}
  summary: {encoder: identity}
training: {batch_size: 64, num_epochs: 1, category_assignment: learnable}
learnable_assignment: {assignment_warmup_epochs: 0}   # one epoch: the assignment learns from the start
random_seed: 5
"""


def _static_only() -> Entry:
    """A plug-in encoder registered with learnable_compatible=False (every built-in one is
    learnable): the case where the guide's fallback still applies."""
    return Entry(name="frozen_columns", builder="spinlock_spec.nn.encoders:IdentityEncoder",
                 params_schema={"type": "object", "properties": {}, "additionalProperties": False},
                 input_kind=TABULAR, description="test plug-in", out_dim=lambda p, s: (s[-1] if s else None),
                 trainable=False, learnable_compatible=False)


def test_hybrid_learnable_compiles_to_the_learnable_trainer_without_fallback():
    c = ss.compile_spec(str(ROOT / "examples" / "learnable_hybrid_initial.yaml"))
    assert c.ok and c.trainer_type == "LearnableVQVAETrainer" and c.assignment_mode == "learnable"
    assert [d.code for d in c.diagnostics] == ["learnable-hybrid-supported"]
    text = summary_text(c, name="hybrid")
    assert "initial hybrid: 12 manual + 16 CNN features, learnable" in text
    assert "Falling back" not in text and "[WARNING]" not in text and "falls back" not in text
    assert "+ fields [3, 16, 16] -> initial_hybrid -> 28 features" in text


def test_hybrid_learnable_trains_the_cnn_end_to_end(tmp_path):
    start = ss.train(HYBRID, dry_run=True, quiet=True, progress=False).model     # same seed = same init
    fam = [f.name for f in start.families].index("initial")
    cnn0 = {k: v.clone() for k, v in start.encoders[fam].cnn.state_dict().items()}
    again = ss.train(HYBRID, dry_run=True, quiet=True, progress=False).model.encoders[fam].cnn.state_dict()
    assert all(torch.equal(again[k], v) for k, v in cnn0.items())     # the comparison below is meaningful
    a, b = start.feature_slices[fam]
    logits0 = start.assignment_logits.detach().clone()

    result = ss.train(HYBRID, out=tmp_path / "run", quiet=True, progress=False)
    model = result.model
    assert type(model).__name__ == "LearnableCategoricalVQVAE"
    enc = model.encoders[fam]
    assert enc.cnn.features[0].in_channels == 3                       # channels are channels
    # manual and CNN columns are features of the assignment matrix
    names = model.feature_names[a:b]
    assert len(names) == 12 + 6 and all(n.startswith("initial:") for n in names)
    assert sum(n.startswith("initial:emb") for n in names) == 6
    assert model.assignment_logits.shape[0] == model.num_features
    assert not torch.equal(model.assignment_logits.detach()[a:b].cpu(), logits0[a:b])
    # the CNN was trained: every tensor of it moved
    moved = {k: (v.cpu() - cnn0[k]).abs().max().item() for k, v in enc.cnn.state_dict().items()}
    assert all(d > 0 for d in moved.values()), moved
    # the manual columns were clustered with the summary columns (planted groups known for them)
    assert result.initial_ari is not None and result.initial_ari > 0.9
    assert (tmp_path / "run" / "final_model.json").is_file()


def test_hybrid_target_does_not_follow_the_cnn():
    model = ss.train(HYBRID, dry_run=True, quiet=True, progress=False).model
    fam = [f.name for f in model.families].index("initial")
    g = torch.Generator().manual_seed(0)
    batch = {"initial": torch.randn(5, 12, generator=g), "initial/fields": torch.randn(5, 3, 16, 16, generator=g),
             "summary": torch.randn(5, 18, generator=g)}
    before = model.targets(batch)["initial"]
    expected = torch.cat([batch["initial"], F.adaptive_avg_pool2d(batch["initial/fields"], 4).flatten(1)], 1)
    assert before.shape == (5, 12 + 3 * 16) and torch.allclose(before, expected)
    with torch.no_grad():
        for p in model.encoders[fam].cnn.parameters():
            p.add_(1.0)
    assert torch.equal(model.targets(batch)["initial"], before)
    # a channel swap changes the target (channels are not averaged)
    swapped = dict(batch, **{"initial/fields": batch["initial/fields"].flip(1)})
    assert not torch.allclose(model.targets(swapped)["initial"], before)
    assert model.apply_heads(torch.zeros(2, model.num_features))["initial"].shape == (2, 60)


def test_an_encoder_that_cannot_be_learned_still_falls_back():
    text = HYBRID.replace("summary: {encoder: identity}", "summary: {encoder: frozen_columns}")
    with ENCODERS.registered(_static_only()):
        c = ss.compile_spec(text)
        assert c.ok and c.trainer_type == "VQVAETrainer" and c.assignment_mode == "auto"
        assert c.graph.graph["requested_assignment_mode"] == "learnable"
        warn = [d for d in c.diagnostics if d.code == "learnable-encoder-fallback"]
        assert len(warn) == 1 and warn[0].severity == "warning"
        assert "Falling back to standard categorical VQ-VAE with static assignments" in warn[0].message
        assert "frozen_columns" in warn[0].message
        assert "falls back" in summary_text(c)
        built = ss.train(text, dry_run=True, quiet=True, progress=False).model
        assert type(built).__name__ == "CategoricalHierarchicalVQVAE"
    assert "frozen_columns" not in ENCODERS
    # the same spec with the built-in identity encoder is learnable
    c = ss.compile_spec(HYBRID)
    assert c.trainer_type == "LearnableVQVAETrainer"
    assert not [d for d in c.diagnostics if d.severity != "info"]


def test_static_discovery_clusters_the_hybrid_manual_columns():
    c = ss.compile_spec(HYBRID, overrides=["training.category_assignment=auto"])
    from spinlock_spec.api import build_model, prepare_data

    prepared = prepare_data(c)
    built = build_model(c, prepared)
    slot = [s for s in built.slots if s.name == "initial"][0]
    assert (slot.manual, slot.stop - slot.start) == (12, 18)
    cnn = list(range(slot.start + 12, slot.stop))
    assert cnn in built.initial.categories                           # CNN columns: a category of their own
    manual = set(range(slot.start, slot.start + 12))
    mixed = [cat for cat in built.initial.categories if manual & set(cat)]
    assert all(set(cat) - manual for cat in mixed)                   # manual columns joined summary groups
    labels = np.array(built.initial.true_labels)
    assert (labels[slot.start:slot.start + 12] >= 0).all() and (labels[cnn] == -1).all()
