"""Static category discovery: cluster the *features* (columns) by correlation.

Distance between two columns is ``1 - |Pearson r|`` (computed on at most
``max_rows`` rows drawn deterministically).  Columns are clustered by
scikit-learn's agglomerative clustering (precomputed distances, average
linkage); the number of clusters is the one with the best silhouette over
``2..max_clusters`` unless ``num_categories`` fixes it.

Small clusters (fewer than ``min_size`` columns):

* ``reassign_orphans=True``: each of their columns joins the cluster of at
  least ``min_size`` columns with the highest mean ``|r|`` to it.  When no
  cluster reaches ``min_size`` nothing can be reassigned and the clusters stay.
* ``reassign_orphans=False``: they are kept as categories of their own.
  Columns are never dropped: every column is a reconstruction target, and a
  dropped column would silently vanish from the model.

``isolated`` groups of columns (e.g. whole families) are left out of the
clustering and become one category each.  The result is deterministic:
columns sorted within a category, categories sorted by their first column.

The clustering is scikit-learn's ``AgglomerativeClustering(metric="precomputed",
linkage="average")`` computed without importing scikit-learn: SciPy's average linkage (which
scikit-learn calls) and the cut into k clusters after the first n - k merges (what its tree
cut does); the adjusted Rand index is computed here from the pair counts.  Importing
``sklearn.cluster`` and ``sklearn.metrics`` took 1.1-1.8 s of a 10 s GPU run
(docs/decisions.md §9a); tests compare both with scikit-learn.  The silhouette that picks k
when ``num_categories`` is not given still comes from scikit-learn.  Heavy imports happen
inside the functions only (layer rule).
"""
from __future__ import annotations

import logging

import numpy as np

from spinlock_spec.config import schema_source
from spinlock_spec.config.sections import schema_defaults
from spinlock_spec.preload import wait as wait_for_preload

log = logging.getLogger("spinlock_spec")

# defaults of the discovery settings: the training section of the schema source owns them
_TRAINING = schema_defaults(schema_source.TRAINING)


def correlation_distance(X: np.ndarray, *, max_rows: int = 5000, seed: int = 0) -> np.ndarray:
    """``1 - |r|`` between the columns of X [N, F]; constant columns are at distance 1."""
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(X.shape[0], max_rows, replace=False))
        X = X[rows]
    X = np.where(np.isfinite(X), X, np.nan)
    centered = X - np.nanmean(X, axis=0, keepdims=True) if X.size else X
    centered = np.nan_to_num(centered, nan=0.0)
    norms = np.sqrt((centered * centered).sum(axis=0))
    safe = np.where(norms > 1e-12, norms, 1.0)
    corr = (centered.T @ centered) / np.outer(safe, safe)
    corr[norms <= 1e-12, :] = 0.0
    corr[:, norms <= 1e-12] = 0.0
    dist = 1.0 - np.clip(np.abs(corr), 0.0, 1.0)
    np.fill_diagonal(dist, 0.0)
    return (dist + dist.T) / 2.0


def _cluster(dist: np.ndarray, k: int) -> np.ndarray:
    """Labels of the ``k`` clusters of average linkage on the distances ``dist`` [n, n]."""
    wait_for_preload()
    from scipy.cluster.hierarchy import linkage

    n = dist.shape[0]
    rows, cols = np.triu_indices(n, k=1)
    merges = linkage(dist[rows, cols], method="average")[:, :2].astype(np.int64)
    return cut_tree_labels(merges, n, k)


def cut_tree_labels(merges: np.ndarray, n: int, k: int) -> np.ndarray:
    """Cluster labels of ``n`` leaves after the first ``n - k`` merges of a linkage
    (``merges`` [n-1, 2]: merge i joins nodes a and b into node n + i): the partition into
    ``k`` clusters, labelled 0.. in order of each cluster's first leaf."""
    parent = np.arange(2 * n - 1)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for i, (a, b) in enumerate(merges[: max(n - int(k), 0)]):
        parent[root(int(a))] = n + i
        parent[root(int(b))] = n + i
    roots = np.array([root(j) for j in range(n)])
    _, first = np.unique(roots, return_index=True)
    order = {int(roots[j]): c for c, j in enumerate(sorted(first))}
    return np.array([order[int(r)] for r in roots], dtype=np.int64)


def _choose_labels(dist: np.ndarray, max_clusters: int, num_categories: int | None) -> np.ndarray:
    n = dist.shape[0]
    if n <= 1:
        return np.zeros(n, dtype=np.int64)
    if num_categories is not None:
        return _cluster(dist, int(min(max(num_categories, 1), n)))
    if n == 2:
        return np.array([0, 1]) if dist[0, 1] > 0.5 else np.zeros(2, dtype=np.int64)
    wait_for_preload()
    from sklearn.metrics import silhouette_score

    best_score, best_labels = -np.inf, None
    for k in range(2, min(int(max_clusters), n - 1) + 1):
        labels = _cluster(dist, k)
        score = silhouette_score(dist, labels, metric="precomputed")
        if score > best_score + 1e-12:
            best_score, best_labels = score, labels
    if best_labels is None:          # max_clusters < 2
        return np.zeros(n, dtype=np.int64)
    return best_labels


def _merge_orphans(labels: np.ndarray, sim: np.ndarray, min_size: int) -> np.ndarray:
    labels = labels.copy()
    ids, counts = np.unique(labels, return_counts=True)
    big = [c for c, m in zip(ids, counts) if m >= min_size]
    small = [c for c, m in zip(ids, counts) if m < min_size]
    if not big or not small:
        return labels
    big_masks = [labels == c for c in big]
    for c in small:
        for j in np.flatnonzero(labels == c):
            scores = [sim[j, mask].mean() for mask in big_masks]
            labels[j] = big[int(np.argmax(scores))]
    return labels


def discover_categories(X: np.ndarray, *, max_clusters: int = _TRAINING["max_clusters"],
                        num_categories: int | None = None, min_size: int = _TRAINING["min_features_per_category"],
                        reassign_orphans: bool = _TRAINING["category_assignment_config"]["reassign_orphans"],
                        isolated: list[list[int]] | tuple = (), seed: int = 0,
                        max_rows: int = 5000) -> list[list[int]]:
    """Group the columns of ``X`` [N, F] into categories (lists of column indices)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"discover_categories needs a 2-D matrix, got shape {X.shape}")
    n_features = X.shape[1]
    isolated_sets = [sorted(set(int(i) for i in group)) for group in isolated if len(group)]
    taken = set()
    for group in isolated_sets:
        for i in group:
            if not 0 <= i < n_features:
                raise ValueError(f"isolated column {i} out of range (0..{n_features - 1})")
            if i in taken:
                raise ValueError(f"column {i} is in two isolated groups")
            taken.add(i)
    free = np.array([i for i in range(n_features) if i not in taken], dtype=np.int64)
    categories: list[list[int]] = [g for g in isolated_sets]
    if free.size:
        dist = correlation_distance(X[:, free], max_rows=max_rows, seed=seed)
        labels = _choose_labels(dist, max_clusters, num_categories)
        if reassign_orphans:
            before = len(np.unique(labels))
            labels = _merge_orphans(labels, 1.0 - dist, min_size)
            after = len(np.unique(labels))
            if after < before:
                log.info("reassigned the columns of %d cluster(s) smaller than %d to their nearest "
                         "cluster", before - after, min_size)
        for c in np.unique(labels):
            categories.append(sorted(int(i) for i in free[labels == c]))
    categories.sort(key=lambda cat: cat[0])
    log.debug("discovered %d categories over %d features", len(categories), n_features)
    return categories


def labels_from_categories(categories: list[list[int]], n_features: int) -> np.ndarray:
    """Category index of each column; columns in no category get distinct negative labels."""
    labels = -1 - np.arange(n_features, dtype=np.int64)
    for c, cat in enumerate(categories):
        labels[np.asarray(cat, dtype=np.int64)] = c
    return labels


def rand_adjusted(true_labels, predicted) -> float:
    """Adjusted Rand index of two labellings (Hubert and Arabie's correction, from the 2x2
    pair-confusion counts; equal to scikit-learn's ``adjusted_rand_score``)."""
    _, t = np.unique(np.asarray(true_labels), return_inverse=True)
    _, p = np.unique(np.asarray(predicted), return_inverse=True)
    n = int(t.size)
    table = np.zeros((int(t.max(initial=-1)) + 1, int(p.max(initial=-1)) + 1), dtype=np.int64)
    np.add.at(table, (t.ravel(), p.ravel()), 1)
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    squares = int((table * table).sum())
    tp = squares - n
    fp = int((table @ cols).sum()) - squares
    fn = int((table.T @ rows).sum()) - squares
    tn = n * n - fp - fn - squares
    if fn == 0 and fp == 0:
        return 1.0
    return float(2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))


def adjusted_rand_index(true_labels, predicted) -> float:
    """ARI over the features whose true label is >= 0."""
    pairs = [(int(t), int(p)) for t, p in zip(true_labels, predicted) if int(t) >= 0]
    if len(pairs) < 2:
        return float("nan")
    t, p = zip(*pairs)
    return rand_adjusted(t, p)


def adjusted_rand(true_labels, categories: list[list[int]]) -> float:
    """Adjusted Rand index between planted groups and discovered categories."""
    true_labels = np.asarray(true_labels)
    pred = labels_from_categories(categories, true_labels.shape[0])
    return rand_adjusted(true_labels, pred)
