"""Compiled graph -> model (the graph decides the class; the API picks the trainer the graph names)."""
from __future__ import annotations

from spinlock_spec.compile.graph import LEARNABLE_MODEL


def model_config(graph):
    """The typed model section carried by the decoder node, plus the training key the model
    itself uses (the topographic term's sample size)."""
    from spinlock_spec.config.sections import ModelConfig

    return ModelConfig.from_dict(graph.nodes["decoder"]["model"],
                                 topo_samples=graph.nodes["trainer"]["training"]["topo_samples"])


def explicit_levels(graph) -> list[tuple[int, int]] | None:
    """The spec's levels as (num_tokens, latent_dim), or None for automatic sizing."""
    nodes = sorted((d for _, d in graph.nodes(data=True) if d.get("kind") == "quantizer_level"),
                   key=lambda d: d["level"])
    if not nodes or any(d["automatic"] for d in nodes):
        return None
    return [(int(d["num_tokens"]), int(d["latent_dim"])) for d in nodes]


def build_model(graph, families, categories: list[list[int]]):
    from spinlock_spec.nn.model import CategoricalHierarchicalVQVAE, LearnableCategoricalVQVAE

    cfg = model_config(graph)
    levels = explicit_levels(graph)
    if graph.graph["model_class"] == LEARNABLE_MODEL:
        return LearnableCategoricalVQVAE(families, categories, levels=levels, model_cfg=cfg)
    return CategoricalHierarchicalVQVAE(families, categories, levels=levels, model_cfg=cfg)

