"""Linear probes: how well a label is predicted linearly from one-hot tokens, and from
the raw features (the ceiling).  scikit-learn's ``LogisticRegression`` (lbfgs, C = 1),
scored by accuracy and macro-F1: stratified 5-fold cross-validation up to
``CV_MAX_ROWS`` rows, one stratified 80/20 split above (seed 0 either way)."""
from __future__ import annotations

from typing import Any

import numpy as np

CV_MAX_ROWS = 5000
FOLDS = 5


def _splits(y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    _, counts = np.unique(y, return_counts=True)
    stratify = counts.min() >= FOLDS
    idx = np.arange(len(y))
    if len(y) > CV_MAX_ROWS:
        tr, te = train_test_split(idx, test_size=0.2, random_state=0,
                                  stratify=y if counts.min() >= 2 else None)
        return [(tr, te)]
    cv = (StratifiedKFold(FOLDS, shuffle=True, random_state=0) if stratify
          else KFold(FOLDS, shuffle=True, random_state=0))
    return list(cv.split(idx, y))


def linear_probe(x, y: np.ndarray, *, one_hot: bool) -> dict[str, float]:
    """Accuracy and macro-F1 of a logistic regression of ``y`` on ``x`` (token ids
    [N, C] one-hot encoded when ``one_hot``, else real features standardized)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    accs, f1s = [], []
    for tr, te in _splits(y):
        first = (OneHotEncoder(handle_unknown="ignore") if one_hot else StandardScaler())
        model = make_pipeline(first, LogisticRegression(max_iter=2000))
        model.fit(x[tr], y[tr])
        pred = model.predict(x[te])
        accs.append(accuracy_score(y[te], pred))
        f1s.append(f1_score(y[te], pred, average="macro"))
    return {"accuracy": float(np.mean(accs)), "macro_f1": float(np.mean(f1s))}


def probe_table(tokens: np.ndarray, raw_features: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Probes from the level-0 tokens, levels 0..1, all levels, and the raw features.
    ``tokens`` [N, K, L]; ``raw_features`` [N, D] (NaN allowed: set to 0 = the mean)."""
    import warnings

    y = np.asarray(labels)
    n, _, levels = tokens.shape
    rows: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # convergence / few-members warnings of sklearn
        for name, upto in (("tokens level 0", 1), ("tokens levels 0..1", 2), ("tokens all levels", levels)):
            if upto > levels or (upto == levels and name != "tokens all levels"):
                continue
            rows[name] = linear_probe(tokens[:, :, :upto].reshape(n, -1), y, one_hot=True)
        feats = np.where(np.isfinite(raw_features), raw_features, 0.0)
        rows["raw features (ceiling)"] = linear_probe(feats, y, one_hot=False)
    classes = np.unique(y)
    return {"n_rows": int(n), "n_classes": int(len(classes)),
            "protocol": (f"{FOLDS}-fold CV" if n <= CV_MAX_ROWS else "80/20 split"),
            "rows": rows}
