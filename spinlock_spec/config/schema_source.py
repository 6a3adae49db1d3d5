"""Source of the shipped JSON Schema (``schemas/spinlock-spec.schema.json``).

The schema is generated from this module plus the encoder registry's params
fragments, and committed; a test checks the shipped file is up to date.
Regenerate with ``python -m spinlock_spec.config.schema_source``.
At run time the shipped file is read (see :mod:`spinlock_spec.config.schema`).
"""
from __future__ import annotations

import json

SCHEMA_ID = "https://spinlock-spec.dev/schemas/spinlock-spec.schema.json"
SCHEMA_FILE = "spinlock-spec.schema.json"


def _p(type_, default, description, **extra) -> dict:
    out = {"description": description, "default": default}
    if type_ is not None:
        out["type"] = type_
    out.update(extra)
    return out


def _enum(values, default, description) -> dict:
    return {"description": description + " One of: " + ", ".join(str(v) for v in values if v is not None) + ".",
            "enum": list(values), "default": default}


def _section(description: str, properties: dict, **extra) -> dict:
    return {"type": "object", "description": description, "properties": properties,
            "additionalProperties": False, "default": {}, **extra}


POS_INT = {"type": "integer", "minimum": 1}
NULLABLE_POS_INT = {"type": ["integer", "null"], "minimum": 1}

SYNTHETIC = _section(
    "Parameters of the embedded planted-structure synthetic dataset, used when dataset.path is null.", {
        "n_samples": _p("integer", 5000, "Number of samples generated.", minimum=2),
        "n_groups": _p("integer", 6, "Number of planted feature groups.", minimum=1),
        "features_per_group": _p("integer", 10, "Columns per planted group.", minimum=1),
        "latents_per_group": _p("array", [2, 4], "[lo, hi]: range of latent factors driving each group.",
                                items={"type": "integer", "minimum": 1}, minItems=2, maxItems=2),
        "noise": _p("number", 0.3, "Standard deviation of the additive noise.", minimum=0.0),
        "temporal_length": _p("integer", 32, "Time steps T of the temporal family.", minimum=1),
        "temporal_dim": _p("integer", 8, "Channels D of the temporal family.", minimum=1),
        "field_channels": _p("integer", 1, "Channels C of the raw initial-condition fields.", minimum=1),
        "field_size": _p("integer", 16, "Height and width of the raw fields.", minimum=4),
        "variable_length": _p("boolean", False, "Give temporal series per-sample lengths (padded at the end)."),
        "seed": _p("integer", 0, "Seed of the generator."),
    })

DATASET = _section("Where the training data comes from.", {
    "path": _p(["string", "null"], None,
               "HDF5 file in the spinlock layout, or NPZ; relative to the spec. null = embedded synthetic data.",
               minLength=1),
    "max_samples": _p(["integer", "null"], None, "Use only the first N rows; null = all.", minimum=1),
    "feature_type": _p("string", "aggregated",
                       "HDF5 subgroup of non-temporal families (features/F/<feature_type>/features).",
                       minLength=1),
    "val_fraction": _p("number", 0.1, "Fraction of rows held out for validation.",
                       minimum=0.0, exclusiveMaximum=1.0),
    "streaming": {"description": "Read an HDF5 file in chunks with background prefetch instead of loading "
                  "it (one tabular family, normalization_method standard, or auto which then standardizes; see "
                  "docs/streaming.md). "
                  "auto = stream when the file's feature data exceed 2 GiB. One of: auto, true, false.",
                  "enum": ["auto", True, False], "default": "auto"},
    "synthetic": SYNTHETIC,
})

LEVEL = {"type": "object", "description": "One quantizer level (residual levels share one latent_dim; "
         "parallel levels may differ).",
         "properties": {
             "num_tokens": {"type": "integer", "minimum": 2, "description": "Codebook size of this level."},
             "latent_dim": {"type": "integer", "minimum": 1, "description": "Width of the code vectors."}},
         "required": ["num_tokens", "latent_dim"], "additionalProperties": False}

MODEL = _section("The categorical hierarchical VQ-VAE.", {
    "group_embedding_dim": _p("integer", 32, "Width of each category's embedding.", minimum=1),
    "group_hidden_dim": _p("integer", 64, "Hidden width of each category's MLP.", minimum=1),
    "levels": _p("array", [], "Quantizer levels per category, coarse to fine; empty = automatic sizing "
                 "from each category's feature count.", items=LEVEL),
    "level_structure": _enum(["residual", "parallel"], "residual",
                             "How a category's levels relate. residual = each level quantizes what the "
                             "levels before it left (one latent width, coarse to fine); parallel = the "
                             "original's design: each level has its own projection of the category "
                             "embedding, latent width and EMA codebook, one decoder reads the concatenated "
                             "codes, per-level partial decoders give the informativeness loss. Levels with "
                             "different latent_dim and no explicit setting compile to parallel. See "
                             "docs/model.md (when to pick which)."),
    "compression_ratios": _p("string", "auto", "Latent dim per level relative to the category's feature "
                             "count, e.g. '0.5:1:1.5', or 'auto'. Original-format field: automatic sizing is "
                             "fixed (docs/model.md), other values only warn.",
                             pattern=r"^(auto|[0-9]+(\.[0-9]+)?(:[0-9]+(\.[0-9]+)?)*)$"),
    "auto_compression_strategy": _enum(["variance", "dimensionality", "information", "balanced"], "balanced",
                                       "Original-format field: automatic sizing is fixed (docs/model.md), other values only warn."),
    "activation": _enum(["relu", "gelu", "silu"], "relu", "Non-linearity inside the category MLPs."),
    "codebook_init": _enum(["kmeans", "random"], "kmeans", "How codebooks start: kmeans = from data "
                           "(sampled rows + k-means, kmeans_iters Lloyd iterations); random = random normal. "
                           "Was uniform_codebook_init (true = kmeans, false = random); the old key still works."),
    "kmeans_iters": _p("integer", 10, "Lloyd iterations of the data initialisation of the codebooks.",
                       minimum=0),
    "assignment_init_scale": _p("number", 1.0, "Learnable assignment: initial logit of a feature's initial "
                                "category.", exclusiveMinimum=0.0),
    "commitment_cost": _p("number", 0.25, "Commitment loss weight (beta).", minimum=0.0),
    "use_ema": _p("boolean", True, "Update codebooks by exponential moving average (buffers) instead of "
                  "gradients (parameters)."),
    "decay": _p("number", 0.99, "EMA decay of the codebooks.", exclusiveMinimum=0.0, exclusiveMaximum=1.0),
    "dropout": _p("number", 0.1, "Dropout inside category MLPs and decoder.", minimum=0.0, maximum=0.95),
    "orthogonality_weight": _p("number", 0.1, "Original-format field; the loss weight used is "
                               "training.orthogonality_weight.", minimum=0.0),
    "informativeness_weight": _p("number", 0.1, "Original-format field; the loss weight used is "
                                 "training.informativeness_weight.", minimum=0.0),
})

ASSIGNMENT_CONFIG = _section("Options of automatic (clustering) category discovery.", {
    "method": _enum(["clustering", "gradient", "hybrid"], "clustering",
                    "Discovery method; only clustering is implemented (use category_assignment: learnable "
                    "for gradient-based assignment)."),
    "isolated_families": _p("array", [], "Families kept as categories of their own.",
                            items={"type": "string"}, uniqueItems=True),
    "reassign_orphans": _p("boolean", True, "Clusters below min_features_per_category join the nearest "
                           "cluster instead of being dropped."),
})

TRAINING = _section("Optimisation, category assignment and loss weights.", {
    "batch_size": _p("integer", 256, "Samples per batch.", minimum=1),
    "learning_rate": _p("number", 0.001, "Learning rate of the model optimiser.", exclusiveMinimum=0.0),
    "num_epochs": _p("integer", 20, "Training epochs.", minimum=1),
    "optimizer": _enum(["adam", "adamw"], "adam", "Model optimiser."),
    "weight_decay": _p("number", 0.0, "Weight decay of the optimiser.", minimum=0.0),
    "scheduler": _enum(["none", "cosine", "step", None], "none", "Learning-rate schedule (null = none)."),
    "scheduler_step_size": _p("integer", 30, "Epochs between learning-rate decays (step).", minimum=1),
    "scheduler_gamma": _p("number", 0.1, "Decay factor of the step schedule.", exclusiveMinimum=0.0,
                          maximum=1.0),
    "min_lr_ratio": _p("number", 0.0, "Floor of the cosine schedule, relative to learning_rate.",
                       minimum=0.0, maximum=1.0),
    "warmup_epochs": _p("integer", 0, "Linear learning-rate warm-up epochs.", minimum=0),
    "category_assignment": _enum(["auto", "learnable", "manual"], "auto",
                                 "auto: clustering discovers categories; learnable: assignment learned end "
                                 "to end (see learnable_assignment); manual: category_mapping_file."),
    "category_mapping_file": _p(["string", "null"], None, "JSON {category: [column indices]}; relative to "
                                "the spec. Required for manual; the initialisation under learnable.",
                                minLength=1),
    "num_categories_auto": _p(["integer", "null"], None, "Number of categories; null = chosen by "
                              "silhouette.", minimum=1),
    "min_features_per_category": _p("integer", 3, "Smallest category size in discovery.", minimum=1),
    "max_clusters": _p("integer", 25, "Largest number of categories tried in discovery.", minimum=1),
    "category_assignment_config": ASSIGNMENT_CONFIG,
    "reconstruction_weight": _p("number", 1.0, "Weight of the reconstruction loss.", minimum=0.0),
    "vq_weight": _p("number", 1.0, "Weight of the vector-quantisation loss.", minimum=0.0),
    "orthogonality_weight": _p("number", 0.1, "Weight of the category orthogonality loss.", minimum=0.0),
    "informativeness_weight": _p("number", 0.1, "Weight of the per-level informativeness loss.", minimum=0.0),
    "topo_weight": _p("number", 0.3, "Weight of the topographic loss.", minimum=0.0),
    "topo_samples": _p("integer", 256, "Samples used for the topographic loss per batch.", minimum=2),
    "save_every": _p("integer", 25, "Save a checkpoint every N epochs; 0 = only best and final.", minimum=0),
    "val_every_n_epochs": _p("integer", 1, "Validate every N epochs.", minimum=1),
    "early_stopping_patience": _p(["integer", "null"], None, "Stop after N epochs without improvement; "
                                  "null or 0 disables.", minimum=0),
    "early_stopping_min_delta": _p("number", 0.0, "Smallest validation-loss decrease counted as "
                                   "improvement.", minimum=0.0),
    "dead_code_reset_interval": _p(["integer", "null"], 0, "Reset unused codes every N epochs; 0 or null "
                                   "disables.", minimum=0),
    "dead_code_threshold": _p("number", 5.0, "Codes used fewer times than this per epoch are dead.",
                              minimum=0.0),
    "gradient_clip_norm": _p(["number", "null"], 1.0, "Clip the model's gradient norm; null disables.",
                             exclusiveMinimum=0.0),
    "use_torch_compile": _p("boolean", False, "Compile the model with torch.compile (CUDA only)."),
    "compile_mode": _enum(["auto", "default", "reduce-overhead", "max-autotune",
                           "max-autotune-no-cudagraphs"], "auto",
                          "torch.compile mode when use_torch_compile is on. auto: reduce-overhead (the "
                          "compiled training step replays as CUDA graphs; the small, launch-bound steps of "
                          "this model ran 1.4-1.6x faster on an H100) in one process, default under "
                          "torch.distributed."),
    "precision": _enum(["auto", "fp32", "bf16"], "auto", "Training precision: bf16 autocast of the forward "
                       "pass on CUDA only; auto = bf16 on CUDA, fp32 on CPU."),
    "cuda_graphs": {"description": "Record the whole training step (forward, backward, clipping, optimizer, "
                                   "gradient all-reduce) as one CUDA graph and replay it (CUDA only, "
                                   "docs/gpu.md). auto = on with CUDA unless use_torch_compile is on; "
                                   "false = eager steps. One of: auto, true, false.",
                    "enum": ["auto", True, False], "default": "auto"},
    "device": _enum(["auto", "cpu", "cuda"], "auto", "Where to train; auto = cuda when available."),
})

LEARNABLE = _section("Learnable (end-to-end) category assignment; used with "
                     "training.category_assignment: learnable.", {
    "temperature_start": _p("number", 1.0, "Softmax temperature of the assignment at the first epoch.",
                            exclusiveMinimum=0.0),
    "temperature_end": _p("number", 0.1, "Temperature at the last epoch.", exclusiveMinimum=0.0),
    "temperature_schedule": _enum(["linear", "exponential", "cosine", "adaptive"], "linear",
                                  "How the temperature anneals from start to end. adaptive: linear until "
                                  "the assignment is stable (see adaptive_threshold, adaptive_patience), "
                                  "then held at its value (the log names the epoch it froze at)."),
    "adaptive_threshold": _p("number", 0.9, "adaptive schedule: the mean (over features) max assignment "
                             "probability must be at least this to count an epoch as stable.",
                             exclusiveMinimum=0.0, maximum=1.0),
    "adaptive_patience": _p("integer", 3, "adaptive schedule: consecutive stable epochs (hard assignment "
                            "unchanged and mean max-probability >= adaptive_threshold) before the "
                            "temperature freezes.", minimum=1),
    "pruning": _section("Category pruning during training (off by default): a category whose "
                        "assignment mass or codebook usage stays under a threshold for patience epochs "
                        "is removed; its features go to their next-best category and the model, "
                        "optimizer state and checkpoints shrink with it.", {
        "enabled": _p("boolean", False, "Prune categories during training."),
        "min_mass": _p("number", 0.02, "Assignment mass sum_f P[f,c] / F (the category's share of the "
                       "features, soft) below which a category counts as empty.", minimum=0.0, maximum=1.0),
        "min_usage": _p("number", 0.0, "Validation codebook utilization (mean over levels) below which a "
                        "category counts as unused; 0 = not checked.", minimum=0.0, maximum=1.0),
        "patience": _p("integer", 3, "Consecutive epochs under a threshold before the category is removed.",
                       minimum=1),
        "min_categories": _p("integer", 1, "Never prune below this many categories.", minimum=1),
        "concentration_weight": _p("number", 0.0, "With pruning on, the balance loss is weighted "
                                   "balance_weight - concentration_weight: a net pull towards fewer, larger "
                                   "categories. 0 = plain balance (redundant categories are removed by merge); "
                                   "a pull empties categories without choosing where their features go.",
                                   minimum=0.0),
        "merge": _p("boolean", True, "With pruning on, merge redundant categories: when two categories each "
                    "explain at least merge_threshold of what the other explains of its own features "
                    "(measured on the training rows each epoch, identity features only) for patience "
                    "epochs after the assignment warmup, the smaller one's features move to the larger "
                    "and the smaller is pruned."),
        "merge_threshold": _p("number", 0.5, "Share of the other category's explained variance above which "
                              "two categories count as redundant (both ways); independent groups share about "
                              "0, two halves of one group about 0.6-0.9.", exclusiveMinimum=0.0, maximum=1.0),
    }),
    "orthogonality_weight": _p("number", 0.1, "Weight of the assignment orthogonality loss.", minimum=0.0),
    "balance_weight": _p("number", 0.05, "Weight of the category balance loss.", minimum=0.0),
    "assignment_lr": _p("number", 0.001, "Learning rate of the assignment logits in units of 1/1000 per epoch: "
                        "the effective rate, assignment_lr x 1000, is the most a logit moves per epoch (Adam "
                        "step assignment_lr x 1000 / batches per epoch), whatever the dataset and batch size; "
                        "the training log prints both.", exclusiveMinimum=0.0),
    "gradient_clip_norm": _p(["number", "null"], 1.0, "Clip the assignment gradient norm; null disables.",
                             exclusiveMinimum=0.0),
    "gumbel_noise": _p("boolean", False, "Add Gumbel noise to the assignment logits."),
    "forward_assignment": _enum(["hard", "soft"], "hard", "What the training forward pass uses. hard: "
                                "the argmax categories from the first epoch (straight-through: the logits "
                                "get the gradient of the soft assignment at the current temperature), so "
                                "the model trains on the categories it is evaluated with; soft: P = "
                                "softmax(logits / temperature) mixes the categories until the "
                                "straight_through_epochs (the behaviour before issue 16)."),
    "straight_through_epochs": _p(["integer", "null"], None, "Final epochs using hard (straight-through) "
                                  "assignment and full inputs (no credit mask), so the model trained last "
                                  "is the one evaluated; the assignment no longer moves in them; null: the "
                                  "last sixth of the epochs (num_epochs // 6).", minimum=0),
    "assignment_warmup_epochs": _p(["integer", "null"], None, "Epochs at the start during which the "
                                   "assignment logits do not move, so that features are not moved on the "
                                   "credit of an untrained model; null = max(1, num_epochs // 5)."),
    "credit_mask_probability": _p("number", 0.25, "Masked credit: probability that an entry of an identity "
                                  "column is hidden from the category encoders in the credit pass; the "
                                  "assignment learns from how well each category predicts the hidden entries "
                                  "(0 = off). Was credit_mask; the old key still works.",
                                  minimum=0.0, exclusiveMaximum=1.0),
    "credit_row_fraction": _p("number", 0.25, "Masked credit: share of each batch's rows (the first ones, "
                              "at most 128) that the credit pass encodes again with entries hidden, without "
                              "gradient to the model; the batch itself always trains on full inputs.",
                              exclusiveMinimum=0.0, maximum=1.0),
    "move_margin": _p("number", 0.0, "A feature leaves its category only for one whose mean squared error "
                      "on the feature's hidden entries is lower by more than this share of the feature's "
                      "variance (0 = any improvement). Raising it keeps features whose gain is small "
                      "where the clustering put them; it also kept 2 of 18 planted wrong features from "
                      "moving at 0.05.", minimum=0.0, exclusiveMaximum=1.0),
    "move_audit_epochs": _p("integer", 2, "Every move of a feature is checked this many epochs later: when "
                            "the validation error of the categories it left and joined rose against the "
                            "trend of the other categories, the move is undone and the feature held where "
                            "it was (0 = off; not with distributed training).", minimum=0),
})

CLEANING = _section("Column cleaning before normalisation.", {
    "enabled": _p("boolean", True, "Clean features (drop constant / duplicate columns, clip outliers)."),
    "variance_threshold": _p("number", 1e-10, "Drop columns with variance below this.", minimum=0.0),
    "deduplicate_threshold": _p("number", 0.99, "Drop one of two columns with |r| above this.",
                                exclusiveMinimum=0.0, maximum=1.0),
    "use_intelligent_dedup": _p("boolean", True, "Keep the more informative column of a duplicate pair."),
    "outlier_method": _enum(["percentile", "iqr", "mad"], "percentile", "How outliers are clipped."),
    "percentile_range": _p("array", [0.5, 99.5], "[lo, hi] percentiles for percentile clipping.",
                           items={"type": "number", "minimum": 0.0, "maximum": 100.0}, minItems=2, maxItems=2),
    # -- the original's outlier and extreme-variance parameters (same defaults and meaning) --
    "iqr_multiplier": _p("number", 1.5, "iqr clipping: bounds Q1 - k IQR and Q3 + k IQR with k this value "
                         "(1.5 mild, 3.0 extreme outliers only).", exclusiveMinimum=0.0),
    "mad_threshold": _p("number", 3.0, "mad clipping: bounds median +- this many (unscaled) median absolute "
                        "deviations (3.0 aggressive, 5.0 moderate).", exclusiveMinimum=0.0),
    "max_variance_threshold": _p(["number", "null"], 1.0e10, "Drop a column whose training variance is above "
                                 "this AND whose coefficient of variation std/|mean| is above "
                                 "max_cv_threshold (unstable, not merely large-scale); null disables.",
                                 minimum=0.0),
    "max_cv_threshold": _p("number", 100.0, "Coefficient of variation std/|mean| above which a column with "
                           "variance above max_variance_threshold is dropped.", minimum=0.0),
})

LOGGING = _section("Progress output.", {
    "wandb": _p("boolean", False, "Weights & Biases logging (not available in spinlock-spec; true only warns)."),
    "log_interval": _p("integer", 10, "Log every N batches.", minimum=1),
    "eval_interval": _p("integer", 1, "Print metrics every N epochs.", minimum=1),
    "verbose": _p("boolean", True, "Print per-epoch progress."),
    "tensorboard": _p("boolean", False, "Also write TensorBoard event files."),
})


def family_schema() -> dict:
    from spinlock_spec.registry import ENCODERS

    names = []
    branches = []
    for entry in ENCODERS.entries():
        spelled = [entry.name, *entry.aliases]
        names += spelled
        params = dict(entry.params_schema)
        params.setdefault("default", {})
        params["description"] = params.get("description") or f"Parameters of the {entry.name} encoder."
        branches.append({
            "if": {"properties": {"encoder": {"enum": spelled}}, "required": ["encoder"]},
            "then": {"properties": {"encoder_params": params}},
        })
    return {
        "type": "object",
        "description": "A feature family: its name picks the data (HDF5 group), its encoder turns it into "
                       "assignable features.",
        "properties": {
            "encoder": {"enum": names, "description": "Encoder of the family (canonical name or alias). One of: "
                        + ", ".join(names) + "."},
            "encoder_params": {"type": "object", "default": {},
                               "description": "Parameters of the encoder; the allowed keys depend on encoder."},
        },
        "required": ["encoder"],
        "additionalProperties": False,
        "allOf": branches,
    }


def build_schema() -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "spinlock-spec experiment spec",
        "description": "A categorical hierarchical VQ-VAE tokenizer experiment: data, feature families and "
                       "their encoders, model, training, category assignment.",
        "type": "object",
        "properties": {
            "extends": {"description": "Base spec(s) merged under this one: a path relative to this file or "
                        "zoo:NAME. Mappings merge, lists replace.",
                        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "dataset": DATASET,
            "families": {"type": "object", "description": "Feature families by name (e.g. summary, temporal, "
                         "initial, architecture).", "minProperties": 1,
                         "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                         "additionalProperties": family_schema()},
            "model": MODEL,
            "training": TRAINING,
            "learnable_assignment": LEARNABLE,
            "feature_cleaning": CLEANING,
            "normalization_method": _enum(
                ["standard", "mad", "yeo-johnson", "quantile", "auto"], "standard",
                "Column normalisation of tabular families: mean/std, median/MAD, or a monotone "
                "per-column transform then mean/std: yeo-johnson (every column; lambda held in [0, 2]), "
                "quantile (to a normal), auto (yeo-johnson on heavy-tailed columns only: more than 1% of "
                "values beyond 5 robust sd, or excess kurtosis > 10). standard is the default: best or "
                "tied on user-scale quality on real tables, heavy-tailed ones included (docs/decisions.md "
                "§8). Decode inverts it (docs/model.md)."),
            "logging": LOGGING,
            "random_seed": _p("integer", 42, "Seed of splits, initialisation and shuffling.",
                              minimum=0, maximum=2 ** 32 - 1),
        },
        "required": ["families"],
        "additionalProperties": False,
    }


def render() -> str:
    return json.dumps(build_schema(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":   # pragma: no cover - maintenance entry point
    from spinlock_spec.resources import schema_dir

    target = schema_dir() / SCHEMA_FILE
    target.write_text(render())
    print(f"wrote {target}")
