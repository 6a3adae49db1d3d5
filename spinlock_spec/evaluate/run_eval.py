"""``evaluate``: a trained run judged on a dataset file (every row of it).

* ``quality`` / ``feature_r2``: on the user's scale (train/user_quality.py);
* code usage of every category x level: utilization, perplexity, dead codes
  (train/metrics.py definitions), over the token ids of these rows;
* with labels: linear probes from one-hot tokens (level 0, levels 0..1, all
  levels) beside the raw features (evaluate/probe.py).
"""
from __future__ import annotations

from typing import Any

import numpy as np


def evaluate_run(run, data, labels: str | None = None, *, batch_size: int = 4096,
                 stage=None) -> dict[str, Any]:
    """Metrics of ``run`` (an ``api.Run``) on the dataset file ``data`` (None: the run's own
    dataset, as its spec names it).  ``stage(text)``, when given, is told each stage's name
    (the CLI's progress lines)."""
    import torch

    from spinlock_spec import api
    from spinlock_spec.data.decode import user_z
    from spinlock_spec.data.tabular_stats import TabularStats
    from spinlock_spec.train.metrics import CodeUsage, category_names, usage_metrics
    from spinlock_spec.train.user_quality import user_scale_metrics

    from .labels import read_labels
    from .probe import probe_table

    stage = stage or (lambda text: None)
    stage(f"reading {data}" if data is not None else "reading the spec's dataset")
    raw = api.load_data(run.compiled, data)
    stage(f"encoding and decoding {raw.n_samples:,} rows")
    codes: list[torch.Tensor] = []
    model = run.model
    user = user_scale_metrics(model, run.preprocessor, raw, batch_size=batch_size, codes_out=codes)
    tokens = torch.cat(codes)
    usage = CodeUsage(model.codebook_sizes, "cpu")
    usage.update(tokens)
    names = category_names(model, usage.K)
    flat = usage_metrics(usage, names)
    table = [{"category": name, "level": lvl,
              "codebook": int(model.codebook_sizes[k, lvl]),
              "utilization": flat[f"{name}/level_{lvl}/utilization"],
              "perplexity": flat[f"{name}/level_{lvl}/perplexity"],
              "dead_codes": flat[f"{name}/level_{lvl}/dead_codes"]}
             for k, name in enumerate(names) for lvl in range(usage.L)]
    result: dict[str, Any] = {
        "run": str(run.path), "data": str(data), "n_rows": int(raw.n_samples),
        "quality": user["quality"], "recon_mse_user": user["recon_mse_user"],
        "feature_r2": user["feature_r2"],
        "utilization": flat["utilization"], "perplexity": flat["perplexity"],
        "dead_codes": flat["dead_codes"], "codebook_entries": flat["codebook_entries"],
        "usage": table}
    if labels is not None:
        stage(f"linear probes of {labels} (tokens and raw features)")
        y = read_labels(labels, data if data is not None else run.compiled.spec["dataset"].get("path"),
                        raw.n_samples)
        feats = [user_z(stats, raw.arrays[fam]) for fam, stats in run.preprocessor.families.items()
                 if isinstance(stats, TabularStats)]
        raw_features = np.concatenate(feats, axis=1) if feats else np.zeros((raw.n_samples, 0))
        result["probe"] = {"labels": labels,
                           **probe_table(tokens.numpy().astype(np.int64), raw_features, y)}
    return result


def save_evaluation(run_path, result: dict[str, Any]) -> None:
    """Keep ``result`` as the run's evaluation.json (``report`` shows it)."""
    from spinlock_spec.runs.folder import RunDir
    from spinlock_spec.runs.names import EVALUATION_FILE

    RunDir(run_path).write_json(EVALUATION_FILE, result)


def format_text(result: dict[str, Any]) -> str:
    """The table shown on screen."""
    lines = [f"Evaluation of {result['run']} on {result['data']} ({result['n_rows']} rows)",
             f"  quality (user scale, token-decoded, not clipped): {result['quality']:.4f}",
             f"  utilization {100 * result['utilization']:.1f}%, mean perplexity "
             f"{result['perplexity']:.2f}, dead codes {result['dead_codes']} of "
             f"{result['codebook_entries']}", "", "Per-feature R^2 (user scale):"]
    for fam, r2 in result["feature_r2"].items():
        width = max((len(n) for n in r2), default=8)
        for name, value in r2.items():
            lines.append(f"  {fam}:{name:<{width}}  " + ("   n/a" if value is None else f"{value:6.3f}"))
    lines += ["", "Codebook usage (category x level):",
              f"  {'category':<16} {'level':>5} {'size':>5} {'util':>7} {'perplexity':>10} {'dead':>5}"]
    for row in result["usage"]:
        lines.append(f"  {row['category']:<16} {row['level']:>5} {row['codebook']:>5} "
                     f"{100 * row['utilization']:6.1f}% {row['perplexity']:10.2f} {row['dead_codes']:>5}")
    probe = result.get("probe")
    if probe:
        lines += ["", f"Linear probe of {probe['labels']!r} ({probe['n_classes']} classes, "
                      f"{probe['protocol']}, logistic regression):",
                  f"  {'input':<26} {'accuracy':>8} {'macro-F1':>8}"]
        for name, row in probe["rows"].items():
            lines.append(f"  {name:<26} {row['accuracy']:8.3f} {row['macro_f1']:8.3f}")
    return "\n".join(lines)
