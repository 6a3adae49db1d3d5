"""Judging a trained tokenizer on a dataset (``spinlock-spec evaluate``): user-scale
quality, per-feature R^2, code usage, and linear probes of labels from the tokens."""
from .labels import read_labels
from .probe import probe_table
from .run_eval import evaluate_run, format_text, save_evaluation

__all__ = ["read_labels", "probe_table", "evaluate_run", "format_text", "save_evaluation"]
