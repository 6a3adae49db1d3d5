import json
import time

import numpy as np
import pytest

from spinlock_spec.data.discovery import adjusted_rand, correlation_distance, discover_categories, labels_from_categories
from spinlock_spec.data.mapping import load_mapping_file
from spinlock_spec.data.synthetic import generate_synthetic
from spinlock_spec.errors import DataError


@pytest.fixture(scope="module")
def planted():
    ds = generate_synthetic({"n_samples": 5000, "n_groups": 6, "features_per_group": 10, "seed": 0},
                            ["summary", "initial", "architecture"])
    return ds


def _is_partition(categories, n):
    flat = sorted(i for cat in categories for i in cat)
    return flat == list(range(n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_groups_recovered(seed):
    ds = generate_synthetic({"n_samples": 5000, "n_groups": 6, "features_per_group": 10, "seed": seed},
                            ["summary"])
    cats = discover_categories(ds.arrays["summary"], seed=seed)
    assert _is_partition(cats, 60)
    assert len(cats) == 6
    assert adjusted_rand(ds.true_groups["summary"], cats) >= 0.9


def test_discovery_is_fast_and_deterministic(planted):
    x = planted.arrays["summary"]
    discover_categories(x[:200, :10])     # warm the lazy scikit-learn import
    start = time.perf_counter()
    first = discover_categories(x)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, elapsed
    assert discover_categories(x) == first
    assert all(cat == sorted(cat) for cat in first)
    assert [cat[0] for cat in first] == sorted(cat[0] for cat in first)


def test_all_identity_families_together(planted):
    x = np.concatenate([planted.arrays[f] for f in ("summary", "initial", "architecture")], axis=1)
    truth = np.concatenate([planted.true_groups[f] for f in ("summary", "initial", "architecture")])
    cats = discover_categories(x)
    assert _is_partition(cats, x.shape[1])
    assert adjusted_rand(truth, cats) >= 0.9


def test_fixed_number_of_categories(planted):
    cats = discover_categories(planted.arrays["summary"], num_categories=3, min_size=1)
    assert len(cats) == 3 and _is_partition(cats, 60)
    # planted groups are never split when merging down to 3
    labels = labels_from_categories(cats, 60)
    for g in range(6):
        assert len(set(labels[planted.true_groups["summary"] == g])) == 1


def test_isolated_columns_form_their_own_category(planted):
    x = planted.arrays["summary"]
    isolated = [[0, 5, 9], [1]]
    cats = discover_categories(x, isolated=isolated, min_size=3)
    assert [0, 5, 9] in cats and [1] in cats
    assert _is_partition(cats, 60)
    rest = [c for c in cats if c not in ([0, 5, 9], [1])]
    assert all(not {0, 1, 5, 9} & set(c) for c in rest)


def _two_groups_and_a_loner(rng, n=3000):
    a, b, c = rng.standard_normal((3, n))
    cols = [a + 0.3 * rng.standard_normal(n) for _ in range(5)]
    cols += [b + 0.3 * rng.standard_normal(n) for _ in range(5)]
    cols += [0.9 * c + 0.35 * a + 0.1 * rng.standard_normal(n)]     # a loner leaning towards group a
    return np.column_stack(cols)


def test_orphans_reassigned_to_the_nearest_cluster():
    x = _two_groups_and_a_loner(np.random.default_rng(0))
    unforced = discover_categories(x, min_size=1)
    assert [10] in unforced                                  # the loner is its own cluster
    cats = discover_categories(x, min_size=3, reassign_orphans=True)
    assert cats == [[0, 1, 2, 3, 4, 10], [5, 6, 7, 8, 9]]


def test_orphans_kept_as_own_category_without_reassignment():
    x = _two_groups_and_a_loner(np.random.default_rng(0))
    cats = discover_categories(x, min_size=3, reassign_orphans=False)
    assert cats == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10]]   # never dropped


def test_edge_cases():
    rng = np.random.default_rng(0)
    assert discover_categories(rng.standard_normal((50, 1))) == [[0]]
    x = rng.standard_normal((100, 4))
    x[:, 2] = 1.0                                            # constant column: distance 1 to all
    cats = discover_categories(x, min_size=1)
    assert _is_partition(cats, 4)
    d = correlation_distance(x)
    assert np.allclose(np.diag(d), 0) and np.allclose(d[2, [0, 1, 3]], 1.0)
    with pytest.raises(ValueError):
        discover_categories(x, isolated=[[0], [0]])


def test_adjusted_rand():
    assert adjusted_rand([0, 0, 1, 1], [[0, 1], [2, 3]]) == pytest.approx(1.0)
    assert adjusted_rand([0, 0, 1, 1], [[0, 2], [1, 3]]) < 0.1
    # a feature left out counts as a singleton, not as a member of category 0
    assert adjusted_rand([0, 0, 1, 1], [[0, 1], [2]]) < 1.0


# -- mapping files ------------------------------------------------------------------

NAMES = ["summary:summary_000", "summary:summary_001", "summary:summary_002", "initial:initial_000"]


def _write(tmp_path, content):
    path = tmp_path / "mapping.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_mapping_file_by_index_and_name(tmp_path):
    path = _write(tmp_path, {"a": [0, "summary_001"], "b": ["summary:summary_002", 3]})
    assert load_mapping_file(path, NAMES) == [[0, 1], [2, 3]]


@pytest.mark.parametrize("content, text", [
    ("{not json", "not valid JSON"),
    ([[0, 1, 2, 3]], "non-empty JSON object"),
    ({"a": [0, 1, 2, 7]}, "column index 7 out of range"),
    ({"a": [0, 1], "b": [1, 2, 3]}, "appears twice: in 'a' and 'b'"),
    ({"a": [0, 1]}, "2 feature(s) are in no category: 2 (summary:summary_002), 3 (initial:initial_000)"),
    ({"a": [0, 1, 2, "nope"]}, "unknown feature name 'nope'"),
    ({"a": [], "b": [0, 1, 2, 3]}, "'a' must be a non-empty list"),
    ({"a": [0, 1.5, 2, 3]}, "neither a column index nor a feature name"),
])
def test_mapping_file_errors(tmp_path, content, text):
    path = _write(tmp_path, content)
    with pytest.raises(DataError) as info:
        load_mapping_file(path, NAMES)
    assert text in str(info.value)
    assert str(path) in str(info.value)


def test_mapping_file_missing(tmp_path):
    with pytest.raises(DataError, match="category mapping file not found"):
        load_mapping_file(tmp_path / "none.json", NAMES)


def test_workload_a_discovery_under_three_seconds():
    from spinlock_spec.data.synthetic import workload

    ds = generate_synthetic(workload("A"), ["summary"])
    discover_categories(ds.arrays["summary"][:200, :10])
    start = time.perf_counter()
    cats = discover_categories(ds.arrays["summary"])
    assert time.perf_counter() - start < 3.0
    assert adjusted_rand(ds.true_groups["summary"], cats) >= 0.9


def _same_partition(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return bool(np.array_equal(a[:, None] == a[None, :], b[:, None] == b[None, :]))


@pytest.mark.parametrize("seed", range(4))
def test_clustering_equals_scikit_learns_agglomerative(seed):
    """The clustering without scikit-learn (SciPy's average linkage cut after n - k merges)
    gives scikit-learn's partition, ties included (rounded columns)."""
    from sklearn.cluster import AgglomerativeClustering

    from spinlock_spec.data.discovery import _cluster, correlation_distance

    rng = np.random.default_rng(seed)
    for trial in range(12):
        n = int(rng.integers(3, 45))
        x = rng.normal(size=(60, n))
        x[:, : n // 2] += 3 * rng.normal(size=(60, 1))
        if trial % 3 == 0:
            x = np.round(x)
        dist = correlation_distance(x)
        for k in sorted({1, 2, 3, min(n, 8), n}):
            ours = _cluster(dist, k)
            theirs = AgglomerativeClustering(n_clusters=k, metric="precomputed", linkage="average").fit_predict(dist)
            assert len(np.unique(ours)) == k
            assert _same_partition(ours, theirs), (seed, trial, k)


def test_adjusted_rand_equals_scikit_learns():
    from sklearn.metrics import adjusted_rand_score

    from spinlock_spec.data.discovery import rand_adjusted

    rng = np.random.default_rng(5)
    cases = [([0, 0, 1, 1], [1, 1, 0, 0]), ([0] * 5, [0] * 5), ([0, 1, 2], [0, 0, 0]), ([3], [7])]
    for _ in range(200):
        n = int(rng.integers(1, 60))
        cases.append((rng.integers(0, int(rng.integers(1, 7)), n), rng.integers(0, int(rng.integers(1, 7)), n)))
    for t, p in cases:
        assert rand_adjusted(t, p) == pytest.approx(adjusted_rand_score(t, p), abs=1e-12)
