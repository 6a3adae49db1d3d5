"""The names of the files in a run folder: the one place they are written down.

``spinlock-spec train --out DIR`` fills a run folder with these files; the trainer,
the API, the report and the zoo tools read and write them through these names.
"""
from __future__ import annotations

CONFIG_FILE = "config.yaml"                          # the resolved spec (compiles again)
NORMALIZATION_FILE = "normalization_stats.npz"       # the fitted preprocessor
INITIAL_CATEGORIES_FILE = "initial_categories.json"  # categories the model was built with
CATEGORIES_FILE = "categories.json"                  # categories at the end of training
METRICS_FILE = "metrics.jsonl"                       # one record per completed epoch
HISTORY_FILE = "training_history.json"               # the same, as per-key series
TENSORBOARD_DIR = "tensorboard"                      # event files (logging.tensorboard)
EVALUATION_FILE = "evaluation.json"                  # the last `spinlock-spec evaluate` of the run
DATA_SOURCE_FILE = "data_source.json"                # the data file: path, size, fingerprint
RESUMES_FILE = "resumes.jsonl"                       # one line per resume: epoch, what changed
LOCK_FILE = ".lock"                                  # held by the process writing the run

# checkpoint pairs: <stem>.safetensors (tensors) + <stem>.json (metadata)
CHECKPOINT_STEM = "checkpoint"                       # resumable state, rewritten every save_every
BEST_STEM = "best_model"                             # the best validation epoch
FINAL_STEM = "final_model"                           # the last epoch (present once a run finished)
WEIGHTS_SUFFIX = ".safetensors"
META_SUFFIX = ".json"


def weights_file(stem: str) -> str:
    return stem + WEIGHTS_SUFFIX


def meta_file(stem: str) -> str:
    return stem + META_SUFFIX


CHECKPOINT_FILE = meta_file(CHECKPOINT_STEM)
BEST_MODEL_FILE = meta_file(BEST_STEM)
FINAL_MODEL_FILE = meta_file(FINAL_STEM)
MODEL_FILES = (FINAL_MODEL_FILE, BEST_MODEL_FILE)     # preference order of readers

# any of these makes a folder a run folder
RUN_MARKERS = (CONFIG_FILE, METRICS_FILE, HISTORY_FILE, CHECKPOINT_FILE) + MODEL_FILES
