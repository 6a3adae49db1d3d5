"""The planted-structure synthetic generator: the embedded default dataset and
the ground truth for quality tests.

Model
-----
``n_groups`` hidden groups; group ``g`` is driven by ``k_g`` independent
standard-normal latent factors, ``k_g`` drawn from ``latents_per_group``
(inclusive range).  Each tabular column belongs to one group and is

    clean = sqrt(1 - a^2) * lin + a * nl
    lin   = z_g . m / |m|,        m = [1, u_1, ..., u_{k-1}],  u ~ U(-0.5, 0.5)
    nl    = standardized f(z_g . v), f in {tanh(1.5 x), sin(1.5 x), x^2}, v random
    a     ~ U(0.35, 0.55)         (share of the nonlinear part)

then standardized, plus Gaussian noise of std ``noise``, a random sign, a
random scale (10^U(-1, 1.5)) and offset (U(-50, 50)).  Every column of a group
shares the group's *primary* latent with a dominant weight, so columns of a
group are strongly correlated with each other (|r| about 0.5-0.8 with the
defaults) and uncorrelated with other groups: correlation clustering recovers
the groups (ARI ~1 with the defaults, see tests/test_data_discovery.py).
Columns of each family are shuffled; ``true_groups[family][j]`` is the group of
column ``j``; column names are neutral (``summary_017``).

Temporal channel ``d`` (group ``d % G``) is a sinusoid whose frequency,
amplitude and phase depend on the group's latents, plus a latent-driven trend
and noise.  Field channel ``c`` is a Gaussian bump (centre and width from group
``c % G``) plus a plane wave (wave vector and phase from group ``(c+1) % G``),
plus pixel noise, so channels are distinct.  With ``variable_length`` each
sample's length is drawn in [ceil(T/2), T]; steps past it are zero and
``NAME/lengths`` holds the lengths.

The column layout of each family is documented in :mod:`.shapes`.  The output
is a deterministic function of the config: each family draws from its own
random stream, so a family does not change when other families are requested.
"""
from __future__ import annotations

import math
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from spinlock_spec.errors import DataError

from .colstats import thread_count
from .dataset import Dataset
from .shapes import (FIELD_FAMILIES, SYNTHETIC_DEFAULTS, columns_per_group, is_temporal_family,
                     with_defaults)

DEFAULT_FAMILIES = ["summary", "temporal", "initial", "architecture"]

# Benchmark / quality workloads of issue 3 (summary family only).
WORKLOADS: dict[str, dict] = {
    "A": {**SYNTHETIC_DEFAULTS, "n_samples": 20_000, "n_groups": 8, "features_per_group": 15,
          "latents_per_group": [2, 4], "noise": 0.3, "seed": 0},
    "B": {**SYNTHETIC_DEFAULTS, "n_samples": 100_000, "n_groups": 12, "features_per_group": 17,
          "latents_per_group": [2, 4], "noise": 0.3, "seed": 0},
}
WORKLOAD_FAMILIES = ["summary"]


def workload(name: str) -> dict:
    """The synthetic config of workload ``A`` or ``B`` (a copy)."""
    key = str(name).upper()
    if key not in WORKLOADS:
        raise DataError(f"unknown workload {name!r}; known: {', '.join(sorted(WORKLOADS))}")
    cfg = dict(WORKLOADS[key])
    cfg["latents_per_group"] = list(cfg["latents_per_group"])
    return cfg


def _check_cfg(cfg: dict) -> None:
    problems = []
    for key in ("n_samples", "n_groups", "features_per_group", "temporal_length", "temporal_dim",
                "field_channels", "field_size"):
        value = cfg[key]
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            problems.append(f"{key} must be a positive integer, got {value!r}")
    lat = cfg["latents_per_group"]
    if (not isinstance(lat, (list, tuple)) or len(lat) != 2
            or not all(isinstance(v, (int, np.integer)) for v in lat) or not 1 <= lat[0] <= lat[1]):
        problems.append(f"latents_per_group must be [lo, hi] with 1 <= lo <= hi, got {lat!r}")
    noise = cfg["noise"]
    if not isinstance(noise, (int, float)) or isinstance(noise, bool) or noise < 0:
        problems.append(f"noise must be a number >= 0, got {noise!r}")
    if problems:
        raise DataError("invalid synthetic dataset config: " + "; ".join(problems),
                        location="dataset.synthetic")


def _family_rng(seed: int, family: str, purpose: str = "") -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(f"{family}|{purpose}".encode())])


def _standardize(x: np.ndarray) -> np.ndarray:
    std = x.std()
    return (x - x.mean()) / (std if std > 1e-12 else 1.0)


def draw_latents(cfg: dict) -> list[np.ndarray]:
    """One [N, k_g] standard-normal latent matrix per hidden group."""
    rng = _family_rng(cfg["seed"], "__latents__")
    lo, hi = cfg["latents_per_group"]
    ks = rng.integers(lo, hi + 1, size=cfg["n_groups"])
    return [rng.standard_normal((cfg["n_samples"], int(k))) for k in ks]


COLUMN_BLOCK = 32       # columns drawn ahead and then computed together in threads


def _column_draws(k: int, n: int, rng: np.random.Generator) -> tuple:
    """One column's random numbers, in the order the generator has always drawn them."""
    mix = np.concatenate([[1.0], rng.uniform(-0.5, 0.5, size=k - 1)])
    v = rng.standard_normal(k)
    kind = rng.integers(3)
    a = rng.uniform(0.35, 0.55)
    eps = rng.standard_normal(n)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    scale = 10.0 ** rng.uniform(-1.0, 1.5)
    offset = rng.uniform(-50.0, 50.0)
    return mix, v, kind, a, eps, sign, scale, offset


def _tabular_column(z: np.ndarray, draws: tuple, noise: float) -> np.ndarray:
    mix, v, kind, a, eps, sign, scale, offset = draws
    lin = z @ (mix / np.linalg.norm(mix))
    u = z @ (v / np.linalg.norm(v))
    nl = np.tanh(1.5 * u) if kind == 0 else np.sin(1.5 * u) if kind == 1 else u * u
    clean = _standardize(math.sqrt(1.0 - a * a) * lin + a * _standardize(nl))
    col = clean + noise * eps
    return sign * scale * col + offset


def _tabular_family(name: str, latents: list[np.ndarray], cfg: dict, width: int | None = None):
    """The family's columns; ``width`` (default: the layout of :mod:`.shapes`) keeps that many
    of the shuffled columns, drawn with enough columns per group.  The random numbers of a
    block of columns are drawn in order, then the block's columns are computed in threads
    (numpy releases the GIL): the same numbers as one column at a time."""
    rng = _family_rng(cfg["seed"], name)
    per_group = columns_per_group(name, cfg) if width is None else -(-int(width) // len(latents))
    n = cfg["n_samples"]
    n_cols = per_group * len(latents)
    groups = np.repeat(np.arange(len(latents)), per_group)
    by_column = np.empty((n_cols, n), dtype=np.float32)    # a column per row: contiguous writes
    noise = float(cfg["noise"])

    def fill(job: tuple[int, tuple]) -> None:
        j, draws = job
        by_column[j] = _tabular_column(latents[groups[j]], draws, noise)

    with ThreadPoolExecutor(thread_count(COLUMN_BLOCK), thread_name_prefix="spinlock-synth") as pool:
        for start in range(0, n_cols, COLUMN_BLOCK):
            block = range(start, min(start + COLUMN_BLOCK, n_cols))
            jobs = [(j, _column_draws(latents[groups[j]].shape[1], n, rng)) for j in block]
            list(pool.map(fill, jobs))
    perm = rng.permutation(n_cols)[:n_cols if width is None else int(width)]
    names = [f"{name}_{j:03d}" for j in range(perm.size)]
    return by_column[perm].T, groups[perm].astype(np.int64), names


def _temporal_family(name: str, latents: list[np.ndarray], cfg: dict):
    rng = _family_rng(cfg["seed"], name)
    n, t_len, dim = cfg["n_samples"], cfg["temporal_length"], cfg["temporal_dim"]
    t = (np.arange(t_len, dtype=np.float64) / t_len)[None, :]
    out = np.empty((n, t_len, dim), dtype=np.float32)
    for d in range(dim):
        z = latents[d % len(latents)]
        k = z.shape[1]
        base_freq = rng.uniform(1.0, 4.0)
        freq = base_freq * (1.0 + 0.3 * np.tanh(z[:, 0]))[:, None]
        amp = np.exp(0.4 * np.tanh(z[:, 1 % k]))[:, None]
        phase = (np.pi * np.tanh(z[:, (2 % k)] + rng.normal()))[:, None]
        trend = (0.5 * np.tanh(z @ rng.normal(size=k) / math.sqrt(k)))[:, None]
        series = amp * np.sin(2 * np.pi * freq * t + phase) + trend * t
        series += 0.5 * cfg["noise"] * rng.standard_normal((n, t_len))
        out[:, :, d] = series
    arrays = {name: out}
    if cfg["variable_length"]:
        lengths = rng.integers((t_len + 1) // 2, t_len + 1, size=n).astype(np.int64)
        out[np.arange(t_len)[None, :] >= lengths[:, None]] = 0.0
        arrays[f"{name}/lengths"] = lengths
    return arrays, [f"{name}_ch{d:02d}" for d in range(dim)]


def _fields(name: str, latents: list[np.ndarray], cfg: dict) -> np.ndarray:
    rng = _family_rng(cfg["seed"], name, "fields")
    n, c_count, size = cfg["n_samples"], cfg["field_channels"], cfg["field_size"]
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    yy, xx = yy[None], xx[None]
    out = np.empty((n, c_count, size, size), dtype=np.float32)
    groups = len(latents)
    for c in range(c_count):
        z1 = latents[c % groups].astype(np.float32)
        z2 = latents[(c + 1) % groups].astype(np.float32)
        k1, k2 = z1.shape[1], z2.shape[1]
        cx = (0.5 + 0.3 * np.tanh(z1[:, 0]))[:, None, None]
        cy = (0.5 + 0.3 * np.tanh(z1[:, 1 % k1] + rng.normal()))[:, None, None]
        width = (0.12 * np.exp(0.4 * np.tanh(z1[:, 2 % k1])))[:, None, None]
        bump = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * width ** 2))
        angle = (np.pi * np.tanh(z2[:, 0] + rng.normal()))[:, None, None]
        wavenumber = (2.0 + 1.5 * np.tanh(z2[:, 1 % k2]))[:, None, None]
        wphase = (np.pi * np.tanh(z2[:, (2 % k2)]))[:, None, None]
        wave = 0.5 * np.cos(2 * np.pi * wavenumber * (np.cos(angle) * xx + np.sin(angle) * yy) + wphase)
        out[:, c] = bump + wave + 0.3 * cfg["noise"] * rng.standard_normal((n, size, size))
    return out


def _checked_latents(cfg: dict | None, families) -> tuple[dict, list[np.ndarray]]:
    """The completed, checked config and its latents, for at least one family."""
    cfg = with_defaults(cfg)
    _check_cfg(cfg)
    if not families:
        raise DataError("the synthetic dataset needs at least one family", location="dataset.synthetic")
    return cfg, draw_latents(cfg)


def generate_synthetic(cfg: dict | None = None, family_names: list[str] | None = None) -> Dataset:
    """Generate the planted-structure dataset for ``family_names``
    (default: summary, temporal, initial, architecture)."""
    families = list(DEFAULT_FAMILIES if family_names is None else family_names)
    cfg, latents = _checked_latents(cfg, families)
    arrays: dict[str, np.ndarray] = {}
    column_names: dict[str, list[str]] = {}
    true_groups: dict[str, np.ndarray] = {}
    for name in families:
        if is_temporal_family(name):
            fam_arrays, column_names[name] = _temporal_family(name, latents, cfg)
            arrays.update(fam_arrays)
            continue
        arrays[name], true_groups[name], column_names[name] = _tabular_family(name, latents, cfg)
        if name in FIELD_FAMILIES:
            arrays[f"{name}/fields"] = _fields(name, latents, cfg)
    source = (f"synthetic(n={cfg['n_samples']}, groups={cfg['n_groups']}, "
              f"features_per_group={cfg['features_per_group']}, seed={cfg['seed']})")
    return Dataset(arrays=arrays, column_names=column_names, true_groups=true_groups,
                   n_samples=int(cfg["n_samples"]), source=source)


def generate_layout(cfg: dict | None, layout: dict[str, dict]) -> Dataset:
    """The planted-structure data with an explicit layout per family (``data synth --spec``):
    ``layout[name]`` holds ``table`` (columns of a [N, D] array, 0 = none), ``series`` ([T, D]
    or None) and ``fields`` ([C, S, S] channels C or None).  Families draw from the same
    latents and per-family streams as :func:`generate_synthetic`."""
    cfg, latents = _checked_latents(cfg, layout)
    arrays: dict[str, np.ndarray] = {}
    column_names: dict[str, list[str]] = {}
    true_groups: dict[str, np.ndarray] = {}
    for name, spec in layout.items():
        if spec.get("series"):
            t_len, dim = spec["series"]
            fam_arrays, column_names[name] = _temporal_family(
                name, latents, {**cfg, "temporal_length": int(t_len), "temporal_dim": int(dim)})
            arrays.update(fam_arrays)
        elif spec.get("table"):
            arrays[name], true_groups[name], column_names[name] = _tabular_family(
                name, latents, cfg, int(spec["table"]))
        if spec.get("fields"):
            arrays[f"{name}/fields"] = _fields(name, latents, {**cfg, "field_channels": int(spec["fields"])})
    source = (f"synthetic(n={cfg['n_samples']}, groups={cfg['n_groups']}, "
              f"features_per_group={cfg['features_per_group']}, seed={cfg['seed']}, from a spec's layout)")
    return Dataset(arrays=arrays, column_names=column_names, true_groups=true_groups,
                   n_samples=int(cfg["n_samples"]), source=source)
