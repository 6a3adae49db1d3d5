"""Resolved spec -> typed networkx DiGraph (node table in docs/architecture.md).

Every node has ``kind`` and ``source`` (file:line:col, ``--set ...`` or
``default``) plus its params as attributes.  Shapes are filled where known.
"""
from __future__ import annotations

import copy

from spinlock_spec.registry import ENCODERS, FIELDS, HYBRID, TEMPORAL

LEARNABLE_MODEL = "LearnableCategoricalVQVAE"
STATIC_MODEL = "CategoricalHierarchicalVQVAE"
LEARNABLE_TRAINER = "LearnableVQVAETrainer"
STATIC_TRAINER = "VQVAETrainer"

BASE_LOSSES = (("recon", "reconstruction_weight"), ("vq", "vq_weight"), ("ortho", "orthogonality_weight"),
               ("info", "informativeness_weight"), ("topo", "topo_weight"))
# Levels per category when model.levels is empty (spinlock_spec/nn/sizing.py NUM_LEVELS).
AUTO_LEVELS = 3
ASSIGN_LOSSES = (("assign_orthogonality", "orthogonality_weight"), ("assign_balance", "balance_weight"))


def hybrid_families(spec: dict) -> list[str]:
    """Families whose encoder is initial_hybrid (their manual columns and CNN embedding
    columns join the learnable assignment)."""
    return [n for n, f in spec["families"].items()
            if f["encoder"] in ENCODERS and ENCODERS.get(f["encoder"]).name == "initial_hybrid"]


def learnable_blockers(spec: dict) -> list[tuple[str, str]]:
    """(family, encoder) of the families whose encoder is registered with
    ``learnable_compatible=False``: their columns cannot join a learnable assignment."""
    out = []
    for name, fam in spec["families"].items():
        if fam["encoder"] in ENCODERS:
            entry = ENCODERS.get(fam["encoder"])
            if not entry.learnable_compatible:
                out.append((name, entry.name))
    return out


def effective_mode(spec: dict) -> str:
    """The assignment mode the model is built with: ``learnable`` falls back to ``auto``
    (static categories) when a family's encoder cannot be learned (:func:`learnable_blockers`)."""
    requested = spec["training"]["category_assignment"]
    if requested == "learnable" and learnable_blockers(spec):
        return "auto"
    return requested


def _src(resolved, path) -> str:
    return str(resolved.origin(path)) if resolved is not None else "default"


def _fields_shape(name: str, encoder: str, info) -> tuple | None:
    return info.shapes.get(f"{name}/fields")


def _data_kind(shape) -> str | None:
    if shape is None:
        return None
    return "tabular" if len(shape) == 1 else ("temporal" if len(shape) == 2 else f"{len(shape)}d")


def _mapping_categories(path) -> int | None:
    """Number of categories in a readable mapping file, else None (rules report problems)."""
    from spinlock_spec.data.mapping import read_mapping
    from spinlock_spec.errors import DataError

    if not path:
        return None
    try:
        return len(read_mapping(path))
    except DataError:
        return None


def build_graph(spec: dict, info, resolved=None):
    """The compiled graph of a resolved spec dict (``info``: a ShapeInfo)."""
    import networkx as nx

    g = nx.DiGraph()
    requested = spec["training"]["category_assignment"]
    mode = effective_mode(spec)
    learnable = mode == "learnable"
    g.graph.update(
        model_class=LEARNABLE_MODEL if learnable else STATIC_MODEL,
        trainer_type=LEARNABLE_TRAINER if learnable else STATIC_TRAINER,
        assignment_mode=mode, requested_assignment_mode=requested,
        shapes_known=info.known, data_source=info.source,
    )
    dataset = copy.deepcopy(spec["dataset"])
    fam_shapes = {n: (list(info.shapes[n]) if n in info.shapes else None) for n in spec["families"]}
    g.add_node("dataset", kind="dataset", source=_src(resolved, ("dataset",)), **dataset,
               families=fam_shapes, n_samples=info.n_samples, shapes_known=info.known)
    widths = []
    for name, fam in spec["families"].items():
        entry = ENCODERS.get(fam["encoder"])
        shape = info.shapes.get(name)
        fields = _fields_shape(name, fam["encoder"], info)
        g.add_node(f"family:{name}", kind="family", source=_src(resolved, ("families", name)), name=name,
                   input_kind=_data_kind(shape) if info.known else None,
                   shape=list(shape) if shape is not None else None,
                   fields_shape=list(fields) if fields is not None else None,
                   variable_length=f"{name}/lengths" in info.shapes)
        enc_input = fields if entry.input_kind == FIELDS else shape
        try:
            out_dim = entry.out_dim(entry.params(fam["encoder_params"]), tuple(enc_input) if enc_input is not None else None)
        except (TypeError, ValueError, IndexError):
            out_dim = None
        widths.append(out_dim)
        g.add_node(f"encoder:{name}", kind="family_encoder", source=_src(resolved, ("families", name, "encoder")),
                   family=name, encoder=entry.name, encoder_params=copy.deepcopy(fam["encoder_params"]),
                   input_kind=entry.input_kind, trainable=entry.trainable,
                   learnable_compatible=entry.learnable_compatible,
                   needs_fields=entry.input_kind in (FIELDS, HYBRID), needs_series=entry.input_kind == TEMPORAL,
                   out_dim=out_dim)
        g.add_edge("dataset", f"family:{name}")
        g.add_edge(f"family:{name}", f"encoder:{name}")
        g.add_edge(f"encoder:{name}", "fuse")
    width = sum(widths) if widths and all(w is not None for w in widths) else None
    g.add_node("fuse", kind="fusion", source=_src(resolved, ("feature_cleaning",)),
               feature_cleaning=copy.deepcopy(spec["feature_cleaning"]),
               normalization_method=spec["normalization_method"], width=width)
    training = spec["training"]
    mapping_file = training["category_mapping_file"]
    g.add_node("assignment", kind="assignment", source=_src(resolved, ("training", "category_assignment")),
               mode=mode, requested_mode=requested, category_mapping_file=mapping_file,
               mapping_is_initialisation=bool(mapping_file) and learnable,
               clustering={k: copy.deepcopy(training[k]) for k in (
                   "num_categories_auto", "min_features_per_category", "max_clusters",
                   "category_assignment_config")},
               learnable=copy.deepcopy(spec["learnable_assignment"]) if learnable else None)
    g.add_edge("fuse", "assignment")
    num_categories = None
    if mode in ("manual", "learnable") and mapping_file:
        num_categories = _mapping_categories(mapping_file)
    elif mode == "auto" and training["num_categories_auto"]:
        num_categories = training["num_categories_auto"]
    g.add_node("categories", kind="category", source=_src(resolved, ("training", "category_assignment")),
               num_categories=num_categories)
    g.add_edge("assignment", "categories")
    model = spec["model"]
    levels = model["levels"]
    count = len(levels) if levels else AUTO_LEVELS
    previous = "categories"
    for level in range(count):
        spec_level = levels[level] if levels else None
        node = f"quantizer:{level}"
        g.add_node(node, kind="quantizer_level",
                   source=_src(resolved, ("model", "levels", level) if levels else ("model", "levels")),
                   level=level, num_tokens=spec_level["num_tokens"] if spec_level else None,
                   latent_dim=spec_level["latent_dim"] if spec_level else None,
                   automatic=spec_level is None, use_ema=model["use_ema"], decay=model["decay"],
                   commitment_cost=model["commitment_cost"],
                   codebook_init=model["codebook_init"])
        g.add_edge(previous, node)
        previous = node
    g.add_node("decoder", kind="decoder", source=_src(resolved, ("model",)),
               group_embedding_dim=model["group_embedding_dim"], group_hidden_dim=model["group_hidden_dim"],
               dropout=model["dropout"], families=list(spec["families"]),
               model=copy.deepcopy(model))
    for level in range(count):
        g.add_edge(f"quantizer:{level}", "decoder")
    losses = [(name, training[key], ("training", key)) for name, key in BASE_LOSSES]
    if learnable:
        la = spec["learnable_assignment"]
        losses += [(name, la[key], ("learnable_assignment", key)) for name, key in ASSIGN_LOSSES]
    g.add_node("trainer", kind="trainer", source=_src(resolved, ("training",)),
               type=g.graph["trainer_type"], model_class=g.graph["model_class"],
               training=copy.deepcopy(training),
               learnable=copy.deepcopy(spec["learnable_assignment"]) if learnable else None,
               random_seed=spec["random_seed"])
    for name, weight, path in losses:
        node = f"loss:{name}"
        g.add_node(node, kind="loss", source=_src(resolved, path), name=name, weight=weight)
        feeder = {"recon": "decoder", "ortho": "categories", "info": "decoder",
                  "topo": "decoder"}.get(name, "assignment" if name.startswith("assign_") else None)
        if name == "vq":
            for level in range(count):
                g.add_edge(f"quantizer:{level}", node)
        elif feeder:
            g.add_edge(feeder, node)
        g.add_edge(node, "trainer")
    return g
