"""``categories.json``: the categories a trained model ended with, their features and, for a
learned assignment, each category's mass and each feature's preference and confidence."""
from __future__ import annotations

from typing import Any

import torch

from .metrics import category_names, feature_categories


def categories_report(model: torch.nn.Module) -> dict[str, Any]:
    names = list(model.feature_names)
    labels = feature_categories(model).tolist()
    K = int(model.codebook_sizes.shape[0])
    cat_names = category_names(model, K)
    cats = [{"name": cat_names[k], "index": k, "features": []} for k in range(K)]
    for f, k in enumerate(labels):
        if k >= 0:
            cats[k]["features"].append({"index": f, "name": names[f]})
    for c in cats:
        c["size"] = len(c["features"])
    return {"mode": "static", "num_categories": K, "num_features": len(names),
            "categories": cats}


def learned_categories_report(model: torch.nn.Module) -> dict[str, Any]:
    report = categories_report(model)
    report["mode"] = "learnable"
    with torch.no_grad():
        probs = model.assignment_probs().detach().cpu()                 # at final temperature
        logits = model.assignment_logits.detach().cpu()
        pref = torch.softmax(logits.float(), dim=1)                     # temperature 1
    report["temperature"] = float(model.temperature)
    for cat in report["categories"]:
        k = cat["index"]
        cat["mass"] = float(probs[:, k].sum())
        for feat in cat["features"]:
            f = feat["index"]
            feat["mass"] = float(pref[f, k])
            feat["confidence"] = float(probs[f].max())
    return report
