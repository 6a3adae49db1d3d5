"""Initial categories: discovered by clustering, or read from a mapping file.

Clustering runs over the identity families' columns and the manual columns of
``initial_hybrid`` families (the raw, cleaned, normalized features).  The
embedding columns of each encoded family (for a hybrid family: its CNN
columns), and every family listed in
``category_assignment_config.isolated_families``, form a category of their own;
the learnable mode can move them afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spinlock_spec.nn.layout import FamilySlot


@dataclass
class InitialCategories:
    categories: list[list[int]]
    source: str                      # "clustering" | "mapping file"
    true_labels: list[int] | None    # planted group per feature (-1 unknown), when the data has them
    ari: float | None = None
    notes: list[str] = field(default_factory=list)
    own: list[str] = field(default_factory=list)   # categories not from clustering, e.g. "the temporal
    #                                                 family's embedding" (clustering only)

    def count_text(self) -> str:
        """``6 categories from clustering + 1 for the temporal family's embedding`` (or ``N categories
        from SOURCE`` when every category comes from the source)."""
        n = len(self.categories)
        if not self.own:
            return f"{n} categories from {self.source}"
        return (f"{n} categories: {n - len(self.own)} from {self.source} + "
                + " + ".join(f"1 for {what}" for what in self.own))


def true_feature_labels(slots: list[FamilySlot], dataset) -> list[int] | None:
    """Planted group of every feature (the family's own columns: identity families and
    hybrid manual columns; -1 for embedding columns)."""
    labels, known = [], False
    for slot in slots:
        groups = dataset.true_groups.get(slot.name) if slot.manual else None
        if groups is not None and len(groups) == slot.manual:
            labels += [int(g) for g in groups]
            known = True
        else:
            labels += [-1] * slot.manual
        labels += [-1] * (slot.stop - slot.start - slot.manual)
    return labels if known else None


def _clustered(slots, dataset, assignment: dict, seed: int) -> tuple[list[list[int]], list[str]]:
    from spinlock_spec.data.discovery import discover_categories

    clustering = assignment["clustering"]
    config = clustering.get("category_assignment_config") or {}
    isolated_names = set(config.get("isolated_families") or [])
    columns, index = [], []
    categories: list[list[int]] = []
    own: list[str] = []
    for slot in slots:
        members = list(range(slot.start, slot.stop))
        if slot.manual and slot.name not in isolated_names:
            columns.append(np.asarray(dataset.arrays[slot.name], dtype=np.float32)[:, :slot.manual])
            index += members[:slot.manual]
            if len(members) > slot.manual:
                categories.append(members[slot.manual:])       # hybrid: the CNN columns
                own.append(f"the {slot.name} family's CNN embedding")
        else:
            categories.append(members)
            own.append(f"the {slot.name} family (isolated)" if slot.name in isolated_names
                       else f"the {slot.name} family's embedding")
    if columns:
        X = np.concatenate(columns, axis=1)
        found = discover_categories(
            X, max_clusters=int(clustering.get("max_clusters") or 25),
            num_categories=clustering.get("num_categories_auto"),
            min_size=int(clustering.get("min_features_per_category") or 1),
            reassign_orphans=bool(config.get("reassign_orphans", True)), seed=seed)
        categories = [[index[i] for i in group] for group in found] + categories
    return categories, own


def initial_categories(graph, slots: list[FamilySlot], feature_names: list[str], dataset,
                       seed: int) -> InitialCategories:
    from spinlock_spec.data.mapping import load_mapping_file

    assignment = graph.nodes["assignment"]
    labels = true_feature_labels(slots, dataset)
    mapping = assignment.get("category_mapping_file")
    own: list[str] = []
    if mapping:
        categories = load_mapping_file(mapping, feature_names)
        source = "mapping file"
    else:
        categories, own = _clustered(slots, dataset, assignment, seed)
        source = "clustering"
    ari = feature_ari(labels, categories) if labels is not None else None
    return InitialCategories(categories, source, labels, ari, own=own)


def feature_ari(labels: list[int], categories: list[list[int]]) -> float:
    """ARI between planted groups and categories over the features whose group is known."""
    from spinlock_spec.data.discovery import labels_from_categories
    from spinlock_spec.data.discovery import adjusted_rand_index

    predicted = labels_from_categories(categories, len(labels))
    return adjusted_rand_index(labels, predicted)
