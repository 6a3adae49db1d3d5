"""The readable summary printed by ``spinlock-spec compile``."""
from __future__ import annotations


def _shape(shape) -> str:
    return "?" if shape is None else "[" + ", ".join(str(s) for s in shape) + "]"


def summary_text(compiled, *, name: str = "") -> str:
    g = compiled.graph
    spec = compiled.spec
    lines = [f"spec {name or '<spec>'}  sha256:{compiled.hash[:16]}"]
    data = spec["dataset"]
    if data["path"] is None:
        s = data["synthetic"]
        lines.append(f"data      synthetic: {s['n_samples']} samples, {s['n_groups']} planted groups "
                     f"(seed {s['seed']})")
    else:
        lines.append(f"data      {data['path']} ({data['feature_type']})")
    lines.append("families")
    width = max(len(n) for n in spec["families"])
    for fam in spec["families"]:
        f, e = g.nodes[f"family:{fam}"], g.nodes[f"encoder:{fam}"]
        extra = " variable length" if f["variable_length"] else ""
        extra += f" + fields {_shape(f['fields_shape'])}" if f["fields_shape"] and e["needs_fields"] else ""
        out = "?" if e["out_dim"] is None else e["out_dim"]
        lines.append(f"  {fam:<{width}}  {_shape(f['shape'])}{extra} -> {e['encoder']} -> {out} features")
        if e["encoder"] == "initial_hybrid":
            from spinlock_spec.compile.rules import hybrid_split

            manual, cnn = hybrid_split(e, f)
            how = "learnable" if g.graph["assignment_mode"] == "learnable" else "static"
            lines.append(f"  {'':<{width}}  {fam} hybrid: {manual if manual is not None else '?'} manual + "
                         f"{cnn} CNN features, {how}")
    fuse = g.nodes["fuse"]
    lines.append(f"features  {fuse['width'] if fuse['width'] is not None else '?'} before cleaning; "
                 f"normalization {fuse['normalization_method']}")
    mode, requested = g.graph["assignment_mode"], g.graph["requested_assignment_mode"]
    shown = mode if mode == requested else f"{mode} (requested {requested}; falls back)"
    lines.append(f"assignment {shown}")
    if mode == "learnable":
        la = spec["learnable_assignment"]
        lines.append(f"  temperature {la['temperature_schedule']} {la['temperature_start']} \u2192 "
                     f"{la['temperature_end']}; assignment_lr {la['assignment_lr']}; "
                     f"balance {la['balance_weight']}, orthogonality {la['orthogonality_weight']}")
        if la["temperature_schedule"] == "adaptive":
            lines.append(f"  adaptive temperature: freezes when the assignment is stable for "
                         f"{la['adaptive_patience']} epochs (mean max-probability >= {la['adaptive_threshold']})")
        pr = la.get("pruning") or {}
        if pr.get("enabled"):
            usage = f" or codebook usage < {pr['min_usage']}" if pr.get("min_usage") else ""
            lines.append(f"  pruning: on; remove a category with assignment mass < {pr['min_mass']}{usage} "
                         f"for {pr['patience']} epochs (keep >= {pr['min_categories']})")
            if pr.get("merge", True):
                lines.append(f"  merge: two categories that each explain >= {pr['merge_threshold']} of what "
                             f"the other explains of its own features, for {pr['patience']} epochs, merge "
                             f"(the smaller into the larger)")
    elif mode == "manual":
        lines.append(f"  mapping {spec['training']['category_mapping_file']}")
    cats = g.nodes["categories"]["num_categories"]
    lines.append(f"categories {cats if cats is not None else 'discovered from data'}")
    levels, structure = spec["model"]["levels"], spec["model"].get("level_structure", "residual")
    if levels:
        sizes = ", ".join(f"{lv['num_tokens']}x{lv['latent_dim']}" for lv in levels)
        lines.append(f"levels    {len(levels)} {structure}: {sizes} (codebook size x latent dim)")
    else:
        from spinlock_spec.compile.graph import AUTO_LEVELS

        lines.append(f"levels    {AUTO_LEVELS} {structure}, sized automatically per category from its feature count")
    lines.append(f"model     {g.graph['model_class']}")
    t = spec["training"]
    lines.append(f"trainer   {g.graph['trainer_type']}: {t['num_epochs']} epochs, batch {t['batch_size']}, "
                 f"{t['optimizer']} lr {t['learning_rate']}")
    losses = [f"{a['name']} {a['weight']}" for _, a in g.nodes(data=True) if a["kind"] == "loss"]
    lines.append("losses    " + ", ".join(losses))
    counts = {s: sum(d.severity == s for d in compiled.diagnostics) for s in ("error", "warning", "info")}
    lines.append(f"diagnostics: {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info")
    for d in compiled.diagnostics:
        lines.append(d.format())
    return "\n".join(lines) + "\n"
