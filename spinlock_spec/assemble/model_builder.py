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
    cls = LearnableCategoricalVQVAE if graph.graph["model_class"] == LEARNABLE_MODEL else CategoricalHierarchicalVQVAE
    try:
        return cls(families, categories, levels=levels, model_cfg=cfg)
    except (MemoryError, RuntimeError) as exc:
        if not is_out_of_memory(exc):
            raise
        raise too_large(exc) from None


def is_out_of_memory(exc: BaseException) -> bool:
    """An allocation the machine refused (torch's CPU allocator and CUDA say it in words)."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text


def too_large(exc: BaseException):
    from spinlock_spec.errors import SpecError

    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    tried = first.split("you tried to allocate", 1)
    detail = f"it tried to allocate{tried[1].split('.')[0]}" if len(tried) == 2 else first
    return SpecError(f"the model does not fit in memory ({detail})", code="E300", location="model",
                     hint="lower model.group_embedding_dim, model.group_hidden_dim, or the latent_dim and "
                          "num_tokens of model.levels")
