"""Compatibility rules: small named functions over the compiled graph.

Each rule has an id (its diagnostic code), a severity, a one-line summary and a
fix hint, and yields findings (message + spec path).  ``RULES`` lists them in
order; docs/spec.md lists them for users and tests/test_compile_rules.py
triggers each one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable

from spinlock_spec.errors import Diagnostic
from spinlock_spec.config.origin import pointer

# The learnable-mode guide's fallback warning, for an encoder that cannot be learned
# (initial_hybrid, the guide's case, is supported since issue 6).
LEARNABLE_FALLBACK_WARNING = ("[WARNING] Learnable assignment mode not supported with encoder {encoder}\n"
                              "  Falling back to standard categorical VQ-VAE with static assignments")


@dataclass
class Finding:
    message: str
    path: tuple = ()
    hint: str | None = None


@dataclass
class RuleContext:
    graph: object        # networkx.DiGraph
    spec: dict           # resolved spec dict
    resolved: object     # ResolvedSpec or None (for provenance)

    def explicit(self, path) -> bool:
        """True when the value at ``path`` was written by the user (not a default)."""
        if self.resolved is None:
            return True
        return self.resolved.origin(path).kind != "default"

    def node(self, node_id) -> dict:
        return self.graph.nodes[node_id]

    def encoders(self):
        for _node_id, attrs in self.graph.nodes(data=True):
            if attrs["kind"] == "family_encoder":
                yield attrs, self.graph.nodes[f"family:{attrs['family']}"]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    summary: str
    hint: str
    check: Callable[[RuleContext], Iterable[Finding]] = field(compare=False)


RULES: list[Rule] = []


def rule(rule_id: str, severity: str, summary: str, hint: str):
    def register(fn):
        RULES.append(Rule(rule_id, severity, summary, hint, fn))
        return fn
    return register


# --------------------------------------------------------------------------- assignment


def hybrid_split(enc: dict, fam: dict) -> tuple[int | None, int]:
    """(manual columns, CNN embedding columns) of an initial_hybrid encoder node
    (manual is None while the family's shape is unknown)."""
    from spinlock_spec.registry import ENCODERS

    params = ENCODERS.get("initial_hybrid").params(enc["encoder_params"])     # the declaration's defaults
    cnn = int(params["cnn_embedding_dim"])
    manual = params.get("manual_dim")
    if manual is None and fam.get("shape") and len(fam["shape"]) == 1:
        manual = fam["shape"][0]
    return (int(manual) if manual is not None else None), cnn


@rule("learnable-encoder-fallback", "warning",
      "learnable assignment with an encoder that cannot be learned falls back to static assignment",
      "use an encoder registered as learnable-compatible for that family (every built-in encoder is), "
      "or set training.category_assignment: auto")
def learnable_encoder_fallback(ctx):
    if ctx.spec["training"]["category_assignment"] != "learnable":
        return
    for enc, fam in ctx.encoders():
        if not enc["learnable_compatible"]:
            yield Finding(LEARNABLE_FALLBACK_WARNING.format(encoder=enc["encoder"])
                          + f" (family {fam['name']!r}: {enc['encoder']}; trainer: VQVAETrainer)",
                          ("families", fam["name"], "encoder"))


@rule("learnable-hybrid-supported", "info",
      "initial_hybrid columns (manual + CNN embedding) join the learnable assignment; the CNN trains end to end",
      "nothing to fix; the family's target stays the manual columns and 4x4-pooled fields")
def learnable_hybrid_supported(ctx):
    if ctx.node("assignment")["mode"] != "learnable":
        return
    for enc, fam in ctx.encoders():
        if enc["encoder"] != "initial_hybrid":
            continue
        manual, cnn = hybrid_split(enc, fam)
        yield Finding(f"family {fam['name']!r}: initial_hybrid with learnable assignment: "
                      f"{manual if manual is not None else '?'} manual + {cnn} CNN features join the "
                      "assignment matrix; the CNN trains end to end against the manual columns and "
                      "pooled fields", ("families", fam["name"], "encoder"))


@rule("manual-needs-mapping-file", "error", "manual assignment needs training.category_mapping_file",
      "set training.category_mapping_file to a JSON {category: [column indices]} file")
def manual_needs_mapping(ctx):
    t = ctx.spec["training"]
    if t["category_assignment"] == "manual" and not t["category_mapping_file"]:
        yield Finding("category_assignment: manual but no category_mapping_file",
                      ("training", "category_assignment"))


@rule("mapping-file-missing", "error", "the category mapping file does not exist",
      "check the path; it is relative to the spec file that names it")
def mapping_missing(ctx):
    a = ctx.node("assignment")
    path = a["category_mapping_file"]
    if path and a["mode"] in ("manual", "learnable") and not os.path.isfile(path):
        yield Finding(f"category mapping file not found: {path}", ("training", "category_mapping_file"))


@rule("mapping-file-invalid", "error",
      "the category mapping file is not JSON {category: [column indices or feature names]}",
      "write e.g. {\"dynamics\": [0, 1, 2], \"shape\": [\"summary:c3\", \"summary:c4\"]}")
def mapping_invalid(ctx):
    a = ctx.node("assignment")
    path = a["category_mapping_file"]
    if not (path and a["mode"] in ("manual", "learnable") and os.path.isfile(path)):
        return
    from spinlock_spec.data.mapping import index_problems, read_mapping
    from spinlock_spec.errors import DataError

    where = ("training", "category_mapping_file")
    try:
        mapping = read_mapping(path)       # the parser data loading uses: names are accepted here too
    except DataError as exc:
        yield Finding(exc.message, where)
        return
    for problem in index_problems(mapping, ctx.node("fuse")["width"]):
        yield Finding(problem, where)


@rule("mapping-file-initialises-learnable", "info",
      "under learnable assignment the mapping file is the initial assignment, then it is learned",
      "use category_assignment: manual to keep the mapping fixed")
def mapping_initialises(ctx):
    a = ctx.node("assignment")
    if a["mode"] == "learnable" and a["category_mapping_file"]:
        yield Finding("category_mapping_file initialises the learnable assignment (instead of clustering)",
                      ("training", "category_mapping_file"))


@rule("mapping-file-ignored", "warning", "a category mapping file has no effect with automatic assignment",
      "remove it, or set category_assignment: manual (fixed) or learnable (initialisation)")
def mapping_ignored(ctx):
    t = ctx.spec["training"]
    if t["category_assignment"] == "auto" and t["category_mapping_file"]:
        yield Finding("category_mapping_file is ignored: categories are discovered by clustering",
                      ("training", "category_mapping_file"))


@rule("learnable-section-unused", "info", "learnable_assignment is set but assignment is not learnable",
      "set training.category_assignment: learnable to use it")
def learnable_unused(ctx):
    if ctx.node("assignment")["mode"] == "learnable":
        return
    if any(ctx.explicit(("learnable_assignment", k)) for k in ctx.spec["learnable_assignment"]):
        yield Finding("learnable_assignment has no effect with category_assignment: "
                      f"{ctx.node('assignment')['mode']}", ("learnable_assignment",))


@rule("compile-mode-unused", "info", "training.compile_mode is set but torch.compile is off",
      "set training.use_torch_compile: true (CUDA only) to use it")
def compile_mode_unused(ctx):
    t = ctx.spec["training"]
    if not t["use_torch_compile"] and ctx.explicit(("training", "compile_mode")):
        yield Finding(f"compile_mode {t['compile_mode']} has no effect without use_torch_compile",
                      ("training", "compile_mode"))


@rule("temperature-rises", "warning", "the assignment temperature rises instead of annealing",
      "make temperature_end smaller than temperature_start (e.g. 1.0 -> 0.1)")
def temperature_rises(ctx):
    la = ctx.spec["learnable_assignment"]
    if ctx.node("assignment")["mode"] == "learnable" and la["temperature_end"] > la["temperature_start"]:
        yield Finding(f"temperature goes {la['temperature_start']} -> {la['temperature_end']}: assignments "
                      "get softer over training", ("learnable_assignment", "temperature_end"))


@rule("straight-through-exceeds-epochs", "warning", "straight_through_epochs covers the whole training",
      "make it smaller than training.num_epochs")
def straight_through(ctx):
    la, t = ctx.spec["learnable_assignment"], ctx.spec["training"]
    if ctx.node("assignment")["mode"] == "learnable" and (la["straight_through_epochs"] or 0) >= t["num_epochs"]:
        yield Finding(f"straight_through_epochs {la['straight_through_epochs']} >= num_epochs "
                      f"{t['num_epochs']}: masked credit is never on, so no feature can move",
                      ("learnable_assignment", "straight_through_epochs"))


@rule("isolated-family-unknown", "error", "isolated_families names a family that is not declared",
      "use names from the families section")
def isolated_unknown(ctx):
    isolated = ctx.spec["training"]["category_assignment_config"]["isolated_families"]
    for i, name in enumerate(isolated):
        if name not in ctx.spec["families"]:
            yield Finding(f"isolated family {name!r} is not in families ({', '.join(ctx.spec['families'])})",
                          ("training", "category_assignment_config", "isolated_families", i))


@rule("discovery-method-not-implemented", "warning", "only clustering discovery is implemented",
      "use method: clustering, or category_assignment: learnable for gradient-based assignment")
def discovery_method(ctx):
    method = ctx.spec["training"]["category_assignment_config"]["method"]
    if method != "clustering" and ctx.node("assignment")["mode"] == "auto":
        yield Finding(f"category_assignment_config.method {method!r} is not implemented; clustering is used",
                      ("training", "category_assignment_config", "method"))


@rule("categories-exceed-max-clusters", "error", "num_categories_auto is larger than max_clusters",
      "raise max_clusters or lower num_categories_auto")
def categories_exceed(ctx):
    t = ctx.spec["training"]
    if t["num_categories_auto"] and t["num_categories_auto"] > t["max_clusters"]:
        yield Finding(f"num_categories_auto {t['num_categories_auto']} > max_clusters {t['max_clusters']}",
                      ("training", "num_categories_auto"))


# --------------------------------------------------------------------------- families and shapes


@rule("temporal-encoder-needs-series", "error", "a temporal encoder needs a [N, T, D] family",
      "use identity or mlp for tabular families, or point the temporal encoder at the temporal family")
def temporal_needs_series(ctx):
    for enc, fam in ctx.encoders():
        if enc["needs_series"] and fam["input_kind"] not in (None, "temporal"):
            yield Finding(f"family {fam['name']!r} is {fam['input_kind']} {fam['shape']} but encoder "
                          f"{enc['encoder']} needs a series [T, D]", ("families", fam["name"], "encoder"))


@rule("tabular-encoder-needs-table", "error", "identity and mlp encoders need a [N, D] family",
      "use temporal_cnn or pyramid_temporal for series")
def tabular_needs_table(ctx):
    for enc, fam in ctx.encoders():
        if enc["input_kind"] == "tabular" and fam["input_kind"] not in (None, "tabular"):
            yield Finding(f"family {fam['name']!r} is {fam['input_kind']} {fam['shape']} but encoder "
                          f"{enc['encoder']} needs columns [D]", ("families", fam["name"], "encoder"))


@rule("encoder-needs-fields", "error", "initial_cnn and initial_hybrid need raw initial-condition fields",
      "use a dataset with inputs/fields (the synthetic data has them for the family named 'initial'), "
      "or encoder: identity")
def needs_fields(ctx):
    known = ctx.graph.graph["shapes_known"]
    for enc, fam in ctx.encoders():
        if enc["needs_fields"] and known and fam["fields_shape"] is None:
            yield Finding(f"family {fam['name']!r} has no raw fields [C, H, W] in {ctx.graph.graph['data_source']} "
                          f"but encoder {enc['encoder']} needs them", ("families", fam["name"], "encoder"))


@rule("fields-channels-mismatch", "error", "in_channels differs from the channels of the raw fields",
      "set in_channels: null to read it from the data")
def channels_mismatch(ctx):
    for enc, fam in ctx.encoders():
        want = enc["encoder_params"].get("in_channels")
        if want is not None and fam["fields_shape"] is not None and want != fam["fields_shape"][0]:
            yield Finding(f"in_channels {want} but the fields of {fam['name']!r} have {fam['fields_shape'][0]} "
                          "channel(s)", ("families", fam["name"], "encoder_params", "in_channels"))


@rule("manual-dim-mismatch", "error", "initial_hybrid manual_dim differs from the family's columns",
      "set manual_dim: null to read it from the data")
def manual_dim_mismatch(ctx):
    for enc, fam in ctx.encoders():
        want = enc["encoder_params"].get("manual_dim") if enc["encoder"] == "initial_hybrid" else None
        if want is not None and fam["shape"] is not None and len(fam["shape"]) == 1 and want != fam["shape"][0]:
            yield Finding(f"manual_dim {want} but family {fam['name']!r} has {fam['shape'][0]} column(s)",
                          ("families", fam["name"], "encoder_params", "manual_dim"))


@rule("input-dim-mismatch", "warning", "an original-format encoder_params.input_dim differs from the data",
      "remove input_dim: the width is read from the data (the value is not used)")
def input_dim_mismatch(ctx):
    for enc, fam in ctx.encoders():
        want = enc["encoder_params"].get("input_dim")
        if want is not None and fam["shape"] is not None and want != fam["shape"][-1]:
            yield Finding(f"input_dim {want} but family {fam['name']!r} has {fam['shape'][-1]} "
                          f"{'channel(s) per step' if len(fam['shape']) == 2 else 'column(s)'}; the data's "
                          f"width {fam['shape'][-1]} is used",
                          ("families", fam["name"], "encoder_params", "input_dim"))


# --------------------------------------------------------------------------- model


@rule("levels-latent-dim-mismatch", "error", "residual levels must share one latent_dim",
      "give every level the same latent_dim, set model.level_structure: parallel, or use levels: []")
def levels_latent_dim(ctx):
    model = ctx.spec["model"]
    dims = {lv["latent_dim"] for lv in model["levels"]}
    if len(dims) > 1 and model["level_structure"] == "residual":
        yield Finding("levels have latent_dim " + ", ".join(str(lv["latent_dim"]) for lv in model["levels"])
                      + ": residual levels quantize the same vector", ("model", "level_structure"))


@rule("levels-parallel-from-latent-dims", "info", "levels of different latent_dim compile to parallel levels",
      "write model.level_structure: parallel to say so, or give every level one latent_dim for residual levels")
def levels_parallel(ctx):
    model = ctx.spec["model"]
    dims = {lv["latent_dim"] for lv in model["levels"]}
    if len(dims) > 1 and model["level_structure"] == "parallel" and not ctx.explicit(("model", "level_structure")):
        yield Finding("levels have latent_dim " + ", ".join(str(lv["latent_dim"]) for lv in model["levels"])
                      + ": compiled to parallel levels (each level its own projection, width and codebook, "
                      "as in the original)", ("model", "levels"))


# --------------------------------------------------------------------------- training vs data


def _train_rows(ctx) -> int | None:
    n = ctx.node("dataset")["n_samples"]
    if n is None:
        return None
    return n - int(round(n * ctx.spec["dataset"]["val_fraction"]))


@rule("batch-size-exceeds-data", "warning", "batch_size is larger than the training rows",
      "lower training.batch_size (each epoch is one partial batch)")
def batch_size_vs_data(ctx):
    rows = _train_rows(ctx)
    bs = ctx.spec["training"]["batch_size"]
    if rows is not None and bs > rows:
        yield Finding(f"batch_size {bs} > {rows} training rows", ("training", "batch_size"))


@rule("no-validation-rows", "warning", "val_fraction leaves no validation rows",
      "raise dataset.val_fraction or use more samples")
def no_validation(ctx):
    n = ctx.node("dataset")["n_samples"]
    if n is not None and int(round(n * ctx.spec["dataset"]["val_fraction"])) < 1:
        yield Finding(f"{n} rows x val_fraction {ctx.spec['dataset']['val_fraction']} gives no validation row; "
                      "best checkpoint and early stopping use the training loss", ("dataset", "val_fraction"))


@rule("warmup-exceeds-epochs", "warning", "warmup_epochs covers the whole training",
      "make warmup_epochs smaller than num_epochs")
def warmup_exceeds(ctx):
    t = ctx.spec["training"]
    if t["warmup_epochs"] >= t["num_epochs"] and t["warmup_epochs"] > 0:
        yield Finding(f"warmup_epochs {t['warmup_epochs']} >= num_epochs {t['num_epochs']}",
                      ("training", "warmup_epochs"))


@rule("use-ema-unsupported", "warning", "model.use_ema: false is not supported (codebooks are always updated by EMA)",
      "remove model.use_ema (or set it to true); model.decay sets how fast the EMA codebooks move")
def use_ema_unsupported(ctx):
    if ctx.spec["model"].get("use_ema") is False:
        yield Finding("model.use_ema: false has no effect: every codebook is updated by an exponential moving "
                      "average (docs/model.md)", ("model", "use_ema"))


# --------------------------------------------------------------------------- running


def run_rules(graph, spec: dict, resolved=None, rules=None) -> list[Diagnostic]:
    """Every finding of every rule as a located diagnostic."""
    ctx = RuleContext(graph, spec, resolved)
    out: list[Diagnostic] = []
    for r in rules or RULES:
        for f in r.check(ctx) or ():
            d = Diagnostic(r.id, f.message, severity=r.severity, pointer=pointer(f.path), hint=f.hint or r.hint)
            origin = resolved.positions.locate(f.path) if resolved is not None else None
            if origin is not None and origin.kind == "file":
                d.file, d.line, d.col = origin.file, origin.line, origin.col
                d.chain = list(origin.chain[:-1]) if len(origin.chain) > 1 else []
            elif origin is not None and origin.kind == "set":
                d.file = f"--set {origin.detail}"
            elif resolved is not None:
                d.file = resolved.source
            out.append(d)
    return out
