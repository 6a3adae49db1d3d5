"""Every error code: one table, one situation per code.

``docs/errors.md`` is generated from :data:`ERROR_CODES` (``python scripts/gen_docs.py``);
``tests/test_errors_table.py`` checks that every code raised in ``spinlock_spec/`` is in
the table and every code in the table is raised somewhere.  Every one of these errors
exits with status 2 and one message (``file:line:col: error[CODE]: ...``).

Ranges: E0xx command line, E1xx reading a spec, E2xx the spec's schema, I3xx/W3xx notes and
warnings of the spec loader, E3xx building the model, E4xx run folders and checkpoints, E5xx
optional packages, E6xx sweeps, Dxxx data files, Zxxx the model zoo.  Compatibility rules found by ``compile`` have names, not codes (docs/rules.md).
"""
from __future__ import annotations

from typing import NamedTuple


class ErrorCode(NamedTuple):
    code: str
    meaning: str       # the one situation the code stands for
    hint: str          # what usually fixes it


_ROWS = [
    # -- command line / API --------------------------------------------------------------------
    ("E000", "a user error without a specific code (a bound re-checked after the schema)",
     "the message names the value; see docs/reference.md for the allowed range"),
    ("E001", "`train` was given neither a SPEC nor --resume", "spinlock-spec train SPEC.yaml"),
    ("E010", "a malformed `sweep -p KEY=VALUES` argument (or none, or a key swept twice)",
     "a list: -p KEY=1e-3,3e-4; a range: -p KEY=0.25:0.5 or KEY=1e-4:1e-2:log"),
    ("E011", "a sweep's base spec or trial specs have errors (each shown at its -p argument and value)",
     "fix or drop the values named"),
    ("E012", "a sweep with a range was given no --trials", "add --trials N"),
    ("E013", "`sweep --metric probe` without --labels, or --labels with another metric",
     "--metric probe --labels NAME (an array of the spec's data file, or a labels file)"),
    ("E020", "a file cannot be written: no space left, over the file size limit (ulimit -f), read-only "
             "file system, permission denied, or a part of the path is a file",
     "free some space or write somewhere else (another --out)"),
    # -- reading a spec ------------------------------------------------------------------------
    ("E100", "YAML syntax error, or a scalar or merge key that cannot be read",
     "fix the YAML at the position shown"),
    ("E101", "a key appears twice in one mapping", "keep one of the two"),
    ("E102", "a refused YAML tag (`!!python/...`, `!!binary`, `!foo`, ...), or a saved-run tag whose "
             "payload is not what yaml.dump writes",
     "specs hold plain mappings, lists and scalars only (saved-run path, numpy-scalar and tuple tags "
     "are read as data; `spinlock-spec migrate` removes them)"),
    ("E103", "the spec file is missing, a folder, too large, unreadable, binary or not UTF-8",
     "check the path (extends paths are relative to the extending file)"),
    ("E104", "the document is not a mapping of sections", "start the spec with e.g. `families:`"),
    ("E105", "the document is too large or too deeply nested (alias bombs)", "a spec needs a few levels only"),
    ("E106", "a malformed `extends` value (empty, or not a file name / zoo:NAME / list of them)",
     "write `extends: base.yaml`, `extends: zoo:NAME` or a list of them"),
    ("E107", "an `extends` cycle, or a chain deeper than 16 files", "remove one of the extends entries"),
    ("E108", "a malformed `--set KEY=VALUE` option", "e.g. --set training.batch_size=64"),
    ("E109", "an output file cannot be written (`compile --lock`, `schema --out`)",
     "check that the folder exists and is writable"),
    ("E110", "the spec compiles with rule errors, so it cannot be trained",
     "run `spinlock-spec compile SPEC` to see the findings"),
    ("E111", "an `extends: zoo:NAME` base cannot be resolved (no such entry, offline, no resolver)",
     "run `spinlock-spec zoo list` to see the entries"),
    ("E112", "a zoo entry's spec extends a file outside its own entry (an absolute path, ../, a link)",
     "the entry is unsafe or corrupt; tell its maintainer"),
    # -- the schema ----------------------------------------------------------------------------
    ("E200", "an unknown key (with a did-you-mean, also across sections)", "check the spelling"),
    ("E201", "a value of the wrong type", "see docs/reference.md for the key's type"),
    ("E202", "a value outside an enumeration (the valid values are listed)", "pick one of the listed values"),
    ("E203", "a required key is missing", "add the key"),
    ("E204", "a number out of range, or not finite", "see docs/reference.md for the key's bounds"),
    ("E205", "another schema violation (pattern, list length, family name, empty families)",
     "see docs/reference.md"),
    ("E206", "an original-format key given together with its canonical key", "keep the canonical key"),
    ("E207", "an unknown encoder (the did-you-mean names every spelling of the nearest registry entries)",
     "see docs/reference.md for the encoders"),
    # -- warnings and notes of the spec loader (compile shows them; they do not stop anything) ------
    ("I102", "note: a saved-run Python tag (path, numpy scalar, tuple) is read as plain data",
     "`spinlock-spec migrate` writes the file without tags"),
    ("I301", "note: an original-format key is read as its canonical key", "rename it to silence the note"),
    ("I302", "note: an original-format key asks for what spinlock-spec does anyway (dropped)", "remove it"),
    ("I303", "note: a null the original accepted is read as what it meant there (families, "
             "training.save_every, model.levels)", "write the value instead of null"),
    ("W300", "warning: an original-format key that has no effect (dropped)", "remove it"),
    ("W301", "warning: a compatibility key set to a value that has no effect", "remove it"),
    ("W302", "warning: logging.wandb: true has no effect (no Weights & Biases integration)",
     "set it to false or remove it"),
    ("W303", "warning: a renamed key written under its old name (still accepted)", "write the new name"),
    ("W304", "warning: an older layout (dataset.feature_families, a flat file's feature_family) is read as "
             "families", "write the families: section the warning shows (`spinlock-spec migrate` does it)"),
    # -- building the model --------------------------------------------------------------------
    ("E300", "the model cannot be built from the compiled spec and the data", "the message names the part"),
    ("E301", "training.device (or --device) is cuda but this torch sees no CUDA device",
     "--device cpu, or --device auto"),
    # -- run folders and checkpoints -----------------------------------------------------------
    ("E400", "a run folder, or a checkpoint file it should hold, is missing",
     "pass the folder `spinlock-spec train` wrote (it prints 'Run folder: ...')"),
    ("E401", "a checkpoint or run file is corrupt or unreadable (JSON, safetensors, checksum)",
     "the file was truncated or edited; use another checkpoint or retrain"),
    ("E402", "a checkpoint's weights or optimizer state do not fit the model", "resume with the same spec"),
    ("E403", "a checkpoint belongs to another spec, architecture or trainer",
     "resume with the run's own spec (leave SPEC out of --resume)"),
    ("E404", "a zoo entry given as a model (encode --model, --init-from) has no weights",
     "train it, or pick an entry with weights (`spinlock-spec zoo list`)"),
    ("E405", "a checkpoint written by a newer spinlock-spec (format_version)", "upgrade spinlock-spec"),
    ("E406", "a pickled PyTorch checkpoint (.pt), which is never loaded",
     "spinlock-spec reads <name>.safetensors + <name>.json"),
    ("E410", "--init-from: the source's architecture does not match the spec",
     "compare the specs with `spinlock-spec diff`"),
    ("E420", "an output location cannot be used: `train --out` is a file, a non-empty folder or not "
             "writable; `encode --out` is a folder, the --data file or a file of the run",
     "`--resume` continues the run there, `--overwrite` replaces it, or choose another --out"),
    ("E421", "another spinlock-spec process is writing the run folder (its .lock is held)",
     "wait until it finishes (or stop it), then --resume"),
    ("E422", "--resume would change a setting the resume rule does not allow (docs/troubleshooting.md)",
     "start a new run (--init-from RUN keeps the weights)"),
    ("E423", "training diverged: the loss is not finite or exploded (the last good checkpoint is kept)",
     "resume with a lower learning rate: --resume RUN --learning-rate X"),
    # -- optional packages ---------------------------------------------------------------------
    ("E500", "the report needs matplotlib, which is not installed", "pip install matplotlib"),
    ("E510", "logging.tensorboard is true but TensorBoard is not installed",
     "pip install tensorboard (or set logging.tensorboard: false)"),
    ("E520", "`export` needs the onnx package, which is not installed", 'pip install -e ".[onnx]"'),
    ("E530", "`sweep` needs Optuna, which is not installed", 'pip install -e ".[sweep]"'),
    # -- sweeps --------------------------------------------------------------------------------
    ("E601", "a sweep's --storage database cannot be opened (bad URL, no driver, unreachable)",
     "sqlite:///path/study.db, postgresql://user@host/db or mysql://user@host/db"),
    ("E602", "the sweep's study in that storage is another sweep (or holds no sweep definition)",
     "give the same spec, -p, --set, --epochs, --metric and --trials, or another --study / --out"),
    ("E603", "a folder is not a readable sweep folder, or its study is not in the storage",
     "give the --out folder of `spinlock-spec sweep`"),
    ("E604", "a trial's run reports no value of the sweep's --metric (recorded as the trial's error)",
     "use --metric quality or val_loss"),
    # -- data ----------------------------------------------------------------------------------
    ("D001", "the dataset file is missing or unreadable", "check dataset.path or --data"),
    ("D002", "the dataset file is a folder or neither HDF5 nor NPZ", "pass an HDF5 (spinlock layout) or NPZ file"),
    ("D003", "the dataset file is corrupt or truncated", "re-create or re-download the file"),
    ("D004", "a family of the spec is missing from the dataset file", "the message lists what the file holds"),
    ("D005", "a family has the wrong shape or type (or the file has no rows)",
     "see docs/spec.md for the layout of each family"),
    ("D006", "an encoder needs raw fields the data does not hold", "use a file with NAME/fields, or another encoder"),
    ("D007", "a family is all NaN", "check the file; NaN rows are not imputed away"),
    ("D008", "families have different numbers of rows", "every family needs one row per sample"),
    ("D009", "invalid sequence lengths of a variable-length family", "lengths must lie in [1, T]"),
    ("D010", "a malformed category mapping file (JSON, members, coverage)",
     "write {category: [column indices or feature names]} covering every feature once"),
    ("D011", "streaming got a family that is not tabular [N, D]", "stream tabular families only"),
    ("D012", "the category mapping file is missing",
     "check training.category_mapping_file (relative to the spec file)"),
    ("D013", "a run's normalization statistics are missing, unreadable or invalid",
     "use the run folder as `train` wrote it (normalization_stats.npz)"),
    ("D014", "loading the dataset would need more memory than is available (checked before reading)",
     "set dataset.max_samples, or stream an HDF5 file of one tabular family (dataset.streaming: true)"),
    ("D020", "the training split is smaller than one batch", "lower training.batch_size or use more rows"),
    ("D021", "the validation split is empty", "raise dataset.val_fraction or use more rows"),
    ("D030", "streaming with normalization_method: mad (needs whole-file medians)",
     "use normalization_method: standard"),
    ("D031", "dataset.streaming: true without an HDF5 file", "set dataset.path (or --data) to an HDF5 file"),
    ("D032", "dataset.streaming with more than one family", "stream one tabular family"),
    ("D040", "Tokenizer.encode got one array for a tokenizer of several families",
     "pass a dict of arrays keyed by family name, or a dataset file"),
    ("D041", "Tokenizer.encode got arrays with different numbers of rows", "give every family one row per sample"),
    ("D042", "Tokenizer.decode got tokens of the wrong shape", "tokens are [rows, categories, levels]"),
    ("D043", "Tokenizer.decode got token ids outside the codebooks", "each id must be below its codebook size"),
    ("D050", "--resume: the data file the run recorded (data_source.json) is missing",
     "pass --data FILE to continue on another file"),
    ("D051", "--resume: the run's data file changed since the run was trained",
     "--data-changed-ok continues on it, --data FILE on another file"),
    # -- the model zoo -------------------------------------------------------------------------
    ("Z001", "a malformed zoo reference, entry name or version", "write zoo:NAME or zoo:NAME@VERSION"),
    ("Z002", "an invalid zoo setting (registry location, SPINLOCK_SPEC_TIMEOUT)",
     "use an http(s) URL or a folder; a positive number of seconds"),
    ("Z010", "an unsafe file name in a registry's index (climbs out, absolute, hidden)",
     "the registry is unsafe or corrupt; nothing was written"),
    ("Z011", "an invalid zoo index or entry record", "the registry's index is corrupt; tell its maintainer"),
    ("Z012", "a symbolic link or special file in a zoo folder", "zoo folders hold regular files only"),
    ("Z020", "a registry or one of its files does not exist (HTTP error, missing path)",
     "check the registry location"),
    ("Z021", "a downloaded file has the wrong size", "the registry's file and its index disagree"),
    ("Z022", "a downloaded file has the wrong checksum", "the registry's file and its index disagree"),
    ("Z023", "a download broke off (truncated body)", "try again"),
    ("Z024", "the registry cannot be reached", "check the network, or use --offline with a cached entry"),
    ("Z030", "no zoo entry of that name", "run `spinlock-spec zoo list` to see the entries"),
    ("Z031", "the zoo entry has no such version", "the message lists the versions"),
    ("Z040", "the zoo cache or an entry file cannot be written", "set SPINLOCK_SPEC_CACHE to a writable folder"),
    ("Z041", "another pull holds the entry's lock too long", "wait, or delete the lock file if no pull runs"),
    ("Z042", "--dest exists and is not an empty folder or a copy of the entry", "choose a new or empty folder"),
    ("Z050", "offline mode and the entry is not in the cache", "pull it once without --offline"),
    ("Z060", "`zoo push` got a folder that is not a finished run", "push a run that `spinlock-spec train` completed"),
    ("Z061", "`zoo push` of a NAME@VERSION the registry already holds",
     "published versions do not change: push a new --version (or --force)"),
    ("Z062", "`zoo push` to an http(s) registry with a non-empty staging folder", "give --out a new or empty folder"),
    ("Z063", "`zoo cache rm` of an entry that is not cached", "`spinlock-spec zoo cache list` shows what is cached"),
]

ERROR_CODES: dict[str, ErrorCode] = {row[0]: ErrorCode(*row) for row in _ROWS}


def describe(code: str) -> ErrorCode | None:
    return ERROR_CODES.get(code)


def errors_markdown() -> str:
    """docs/errors.md."""
    lines = ["# Error codes", "",
             "<!-- generated by scripts/gen_docs.py from spinlock_spec/errors_table.py; do not edit -->", "",
             "Every error a user can cause is one message with a location and exit status 2, e.g.",
             "`spec.yaml:12:3: error[E200]: unknown key ...`.  Each code stands for one situation.",
             "Codes starting with W (warning) or I (note) are reported by `compile` and never stop a run.",
             "Compatibility rules found by `spinlock-spec compile` are named, not numbered: see",
             "[rules.md](rules.md).", "",
             "| code | meaning | what usually fixes it |", "|---|---|---|"]
    for e in ERROR_CODES.values():
        lines.append(f"| `{e.code}` | {e.meaning.replace('|', '/')} | {e.hint.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
