"""Python API, mirroring the CLI (which is a thin layer over it).

    import spinlock_spec as ss
    compiled = ss.compile_spec("examples/static_baseline.yaml")
    result = ss.train("examples/static_baseline.yaml", epochs=5, out="runs/demo")
    run = ss.load_run(result.run_dir)
    tokens = ss.encode(run, "data.h5")["tokens"]          # [N, categories, levels]

Heavy imports (torch, scikit-learn) happen inside the functions that need them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from spinlock_spec.errors import CheckpointError, SpecError
from spinlock_spec.logs import get_logger
from spinlock_spec.assemble.prepare import PreparedData, load_data, prepare_data  # noqa: F401 (the API)
from spinlock_spec.run_data import prepare_early, streamed_data
from spinlock_spec.train.world import env_world_size
from spinlock_spec.zoo_ref import entry_name, is_zoo_ref

from spinlock_spec.runs.names import BEST_MODEL_FILE, CONFIG_FILE, FINAL_MODEL_FILE, INITIAL_CATEGORIES_FILE, \
    NORMALIZATION_FILE  # noqa: F401 (CONFIG_FILE, NORMALIZATION_FILE: part of the API)

LEARNABLE_BANNER = ("[LEARNABLE ASSIGNMENT MODE]",
                    "Creating learnable categorical VQ-VAE with end-to-end assignment learning")


# --------------------------------------------------------------------------- compile
def compile_spec(spec, overrides: Sequence[str] = (), data=None):
    """Load, validate and compile a spec (path, ``zoo:NAME``, YAML text or dict)."""
    from spinlock_spec.compile import compile_spec as _compile
    from spinlock_spec.compile.compiled import spec_source
    from spinlock_spec.zoo import resolve_spec_ref

    return _compile(spec_source(spec, resolve_spec_ref), data=data, overrides=tuple(overrides),
                    resolve_ref=resolve_spec_ref)


def _require_ok(compiled) -> None:
    if not compiled.ok:
        raise SpecError("the spec has errors; see `spinlock-spec compile` for details",
                        code="E110", diagnostics=compiled.errors)


def _report_diagnostics(compiled, log) -> None:
    for diag in compiled.diagnostics:
        if diag.severity == "warning":
            log.warning(diag.message)
        elif diag.severity == "info":
            log.debug(diag.message)


# --------------------------------------------------------------------------- data
# load_data(compiled, data=None) and prepare_data(compiled, data=None, preprocessor=None) -> PreparedData
# live in the assemble layer (the report uses them too); they are part of this API.


# --------------------------------------------------------------------------- build
@dataclass
class BuiltModel:
    model: Any
    families: list
    slots: list
    initial: Any                 # build.categories.InitialCategories


def build_model(compiled, prepared: PreparedData, categories: list[list[int]] | None = None,
                log=None) -> BuiltModel:
    """Families, initial categories (clustering / mapping file / given) and the model."""
    from spinlock_spec.assemble.categories import InitialCategories, feature_ari, true_feature_labels
    from spinlock_spec.assemble.categories import initial_categories
    from spinlock_spec.assemble.families import family_inputs
    from spinlock_spec.nn.layout import feature_layout, feature_names
    from spinlock_spec.assemble.model_builder import build_model as _build

    log = log or get_logger()
    graph = compiled.graph
    learnable = compiled.assignment_mode == "learnable"
    families = family_inputs(graph, prepared.train)
    slots = feature_layout(families)
    names = feature_names(families, slots)
    if learnable:
        for line in LEARNABLE_BANNER:
            log.info(line)
    if categories is not None:
        labels = true_feature_labels(slots, prepared.train)
        initial = InitialCategories(categories, "saved", labels,
                                    feature_ari(labels, categories) if labels else None)
    else:
        if learnable:
            source = "mapping file" if graph.nodes["assignment"].get("category_mapping_file") else "clustering"
            log.info(f"Initializing assignment matrix from {source}...")
        else:
            log.info("Auto-discovering categories" if not graph.nodes["assignment"].get(
                "category_mapping_file") else "Loading categories from mapping file")
        initial = initial_categories(graph, slots, names, prepared.train, int(compiled.spec["random_seed"]))
    sizes = ", ".join(str(len(c)) for c in initial.categories)
    line = f"  {initial.count_text()} (features per category: {sizes})"
    if initial.ari is not None:
        line += f"; ARI vs planted groups: {initial.ari:.3f}"
    log.info(line)
    import torch

    torch.manual_seed(int(compiled.spec["random_seed"]))     # same initial weights for the same spec
    try:
        model = _build(graph, families, initial.categories)
    except ValueError as exc:
        raise SpecError(f"cannot build the model: {exc}", code="E300") from None
    return BuiltModel(model, families, slots, initial)


# --------------------------------------------------------------------------- train
@dataclass
class TrainResult:
    run_dir: Path | None
    history: dict
    model: Any
    compiled: Any
    initial_ari: float | None = None
    extra: dict = field(default_factory=dict)


def _overrides_for(epochs, batch_size, learning_rate, device) -> list[str]:
    out = []
    if epochs is not None:
        out.append(f"training.num_epochs={int(epochs)}")
    if batch_size is not None:
        out.append(f"training.batch_size={int(batch_size)}")
    if learning_rate is not None:
        out.append(f"training.learning_rate={float(learning_rate)!r}")
    if device is not None:
        out.append(f"training.device={device}")
    return out


def spec_name(spec) -> str:
    if isinstance(spec, Path) or (isinstance(spec, str) and "\n" not in spec):
        text = str(spec)
        if is_zoo_ref(text):
            return entry_name(text)
        return Path(text).stem
    return "spec"


def train(spec=None, *, overrides: Sequence[str] = (), data=None, epochs: int | None = None,
          out=None, runs_root="runs", device: str | None = None, batch_size: int | None = None,
          learning_rate: float | None = None, resume=None, init_from=None, quiet: bool = False,
          log_format: str = "text", dry_run: bool = False, progress: bool = True,
          overwrite: bool = False, data_changed_ok: bool = False) -> TrainResult:
    """Compile ``spec`` and train it; the run folder is ``out`` or ``runs_root/<name>-<time>``.

    ``resume``: a run folder to continue (its config.yaml is the spec when ``spec`` is None).
    ``init_from``: a run folder or ``zoo:NAME`` whose weights start the training.
    ``out``: refused when it is a non-empty folder, unless ``overwrite`` (an old run
    folder there is then removed whole).  ``data_changed_ok``: resume on the run's data
    file even though it changed since the run was trained.
    """
    from spinlock_spec import run_setup
    from spinlock_spec.runs.folder import RunDir
    from spinlock_spec.runs.guard import RunLock, prepare_out, resume_data

    log = get_logger()
    extra = list(overrides) + _overrides_for(epochs, batch_size, learning_rate, device)  # flags win
    resume_dir = Path(resume) if resume is not None else None
    writer = run_setup.writes_run_folder()
    data_note = None
    if resume_dir is not None:
        run_setup.check_run_folder(resume_dir)
        if out is not None and Path(out).resolve() != resume_dir.resolve():
            raise CheckpointError(f"--out {out} with --resume {resume_dir}: a resumed run is written "
                                  "in its own folder", code="E420", hint="leave --out out")
        if spec is None:
            spec = resume_dir / CONFIG_FILE
        data, data_note = resume_data(resume_dir, data, data_changed_ok=data_changed_ok)
        if data_note and writer:
            log.info(data_note)
    elif out is not None and writer and not dry_run:
        prepare_out(out, overwrite=overwrite)
    if spec is None:
        raise SpecError("no spec given", code="E001", hint="spinlock-spec train SPEC.yaml")
    compiled = compile_spec(spec, extra, data=data)
    _require_ok(compiled)
    spec_ = compiled.spec
    _check_device(spec_["training"]["device"])      # before any work (imports torch for cuda only)
    early = None
    if resume_dir is None and not dry_run and env_world_size() <= 1:   # new run, one process
        _report_diagnostics(compiled, log)
        early = prepare_early(compiled, data, log)
    try:
        dist_ctx = _join_process_group(spec_, log)      # one process: a no-op
        if early is None:
            _report_diagnostics(compiled, log)
        if not dry_run:                   # CUDA starts while the host prepares the data
            from spinlock_spec.train.cuda_graph_step import PRELOADED_MODULES, warm_up_cuda
            from spinlock_spec.train.distributed import device_for
            warm_up_cuda(device_for(dist_ctx, spec_["training"]["device"]),
                         preload_modules=PRELOADED_MODULES if early is None else ())
            if early is not None:         # imported by the first optimizer step: meanwhile, here
                import torch._dynamo  # noqa: F401
    except Exception:
        if early is not None and early.prepared is not None:
            early.prepared.join()         # no data work left running behind the error
        raise

    saved_pre, saved_categories, changes = None, None, []
    if resume_dir is not None:        # the folder's config.yaml is the run's own (not edited or swapped in)
        run_setup.check_spec_hash(resume_dir, compile_spec(resume_dir / CONFIG_FILE), {}, CONFIG_FILE)
        changes = run_setup.check_resume(resume_dir, compiled)
        saved_pre, saved_categories = run_setup.saved_state(resume_dir)
    streamed = early.streamed if early is not None else streamed_data(compiled, data, log)
    if streamed is not None:
        if saved_pre is not None:
            streamed.preprocessor = saved_pre
        prepared = PreparedData(streamed.train_sample, streamed.val, streamed.preprocessor,
                                str(streamed.sample.source), raw_val=streamed.val_raw)
    elif early is not None:
        prepared = early.prepared.result()
    else:
        prepared = prepare_data(compiled, data, preprocessor=saved_pre)
    _report_column_fates(prepared.preprocessor, log)
    if init_from is not None and saved_categories is None:
        saved_categories = _init_categories(init_from, compiled, prepared, log)
    built = build_model(compiled, prepared, categories=saved_categories, log=log)
    if init_from is not None:
        _init_weights(built.model, init_from, log, compiled)
    if dry_run:
        log.info(f"Dry run: {compiled.model_class} with {len(built.initial.categories)} categories and "
                 f"{sum(p.numel() for p in built.model.parameters()):,} parameters; "
                 f"{compiled.trainer_type} would train {prepared.train.n_samples} rows. Nothing written.")
        return TrainResult(None, {}, built.model, compiled, built.initial.ari)

    run = RunDir(resume_dir) if resume_dir is not None else (
        RunDir(Path(out)) if out is not None else RunDir.new(runs_root, spec_name(spec)))
    main = dist_ctx.is_main           # only rank 0 writes the run folder and logs
    lock = RunLock(run.path).acquire() if main else None
    try:
        if main and resume_dir is None and out is not None:
            prepare_out(out)           # still empty now that it is locked (no run started meanwhile)
        return _train_in(run, resume_dir, compiled, prepared, built, streamed, dist_ctx, log,
                         changes=changes, data=data, data_note=data_note, quiet=quiet,
                         log_format=log_format, progress=progress)
    finally:
        if lock is not None:
            lock.release()


def _train_in(run, resume_dir, compiled, prepared, built, streamed, dist_ctx, log, *, changes, data,
              data_note, quiet, log_format, progress) -> TrainResult:
    from spinlock_spec import run_setup
    from spinlock_spec.train.trainers import trainer_class
    from spinlock_spec.train.user_quality import final_metrics_hook

    spec_ = compiled.spec
    main = dist_ctx.is_main
    if resume_dir is None and main:
        run_setup.start_run_folder(run, compiled, prepared, built, data)
    cls = trainer_class(compiled.trainer_type)
    dist_kw = {}
    if dist_ctx.enabled:
        from spinlock_spec.train.distributed import device_for
        dist_kw = {"dist": dist_ctx, "device": device_for(dist_ctx, spec_["training"]["device"])}
    trainer = cls(built.model, prepared.train.arrays, prepared.val.arrays, spec_["training"],
                  spec_["learnable_assignment"], run_dir=run if main else None, log=log,
                  seed=int(spec_["random_seed"]),
                  spec_hash=compiled.hash, quiet=quiet or not main, log_format=log_format,
                  true_labels=built.initial.true_labels, progress=progress and main,
                  tensorboard=bool(spec_["logging"]["tensorboard"]),
                  metadata={"initial_ari": built.initial.ari, "data_source": prepared.source,
                            "trainer_type": compiled.trainer_type,
                            "normalization_sha256": run_setup.normalization_sha256(run.path if main else None)},
                  train_stream=streamed.stream if streamed is not None else None,
                  final_metrics=final_metrics_hook(prepared.preprocessor, prepared.raw_val), **dist_kw)
    if resume_dir is not None:
        done = trainer.resume_from(run, check_spec_hash=False)
        log.info(f"Resuming {run.path} after epoch {done}")
        for change in changes:
            log.info(f"  {change['key']}: {change['from']!r} -> {change['to']!r} (from this epoch on)")
        if main:
            if data_note and data is not None:
                run_setup.record_data_source(run, data)
            run_setup.record_resume(run, compiled, done, changes, data_note)
    history = trainer.fit(int(spec_["training"]["num_epochs"]))
    if main:
        _user_scale_final(trainer, prepared, run, log)
    log.info(f"Run folder: {run.path}")
    return TrainResult(Path(run.path), history, trainer.model, compiled, built.initial.ari)


def _report_column_fates(pre, log) -> None:
    """One line when any input column is not tokenized itself (data/decode.py)."""
    from spinlock_spec.data.decode import fate_summary

    for line in fate_summary(pre):
        log.info(line)


def _user_scale_final(trainer, prepared: PreparedData, run, log) -> None:
    """After training: every input column's fate (tokenized, twin, constant, ...) into
    ``categories.json``."""
    from spinlock_spec.runs.names import CATEGORIES_FILE

    categories_path = Path(run.path) / CATEGORIES_FILE
    if trainer.run_dir is not None and categories_path.is_file():
        from spinlock_spec.data.decode import input_feature_report

        report = json.loads(categories_path.read_text())
        report["input_features"] = input_feature_report(prepared.preprocessor, report)
        run.write_json(CATEGORIES_FILE, report)


def _check_device(device) -> None:
    if str(device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SpecError(f"training.device: {device}, but this torch ({torch.__version__}) sees no CUDA "
                            "device", code="E301", location="training.device (or --device)",
                            hint="--device cpu, or --device auto to use CUDA only when present")


def _join_process_group(spec_: dict, log):
    """Under torchrun / ``--nproc`` (WORLD_SIZE > 1): join the process group and keep
    the logs of ranks other than 0 to warnings (train/distributed.py)."""
    from spinlock_spec.train import distributed

    if env_world_size() <= 1:
        return distributed.DistContext()
    ctx = distributed.setup(spec_["training"]["device"])
    if not ctx.is_main:
        import logging
        log.setLevel(logging.WARNING)
    return ctx


def spec_label(compiled) -> str | None:
    """What ``runs list`` shows as a run's spec: the spec file it was compiled from (relative to
    the working directory when inside it), when it came from a file."""
    import os

    resolved = getattr(compiled, "resolved", None)
    files = [str(f) for f in (getattr(resolved, "files", None) or []) if not str(f).startswith("<")]
    if not files:
        return None
    path = os.path.abspath(files[0])
    inside = path.startswith(os.getcwd() + os.sep)
    return os.path.relpath(path) if inside else path


def _init_weights(model, source, log, compiled=None) -> None:
    """Fine-tune start: copy weights from a run folder / zoo entry when the architecture matches."""
    from spinlock_spec.run_setup import architecture_changes
    from spinlock_spec.train.checkpoint import load_model, model_state_tensors

    folder = _model_folder(source)
    other, _ = load_model(folder)
    mine, theirs = model_state_tensors(model), model_state_tensors(other)
    problems = []
    for key in sorted(set(mine) | set(theirs)):
        if key not in theirs:
            problems.append(f"{key}: missing in {source}")
        elif key not in mine:
            problems.append(f"{key}: not in this model")
        elif tuple(mine[key].shape) != tuple(theirs[key].shape):
            problems.append(f"{key}: shape {tuple(theirs[key].shape)} in {source}, "
                            f"{tuple(mine[key].shape)} here")
    if problems:
        problems = architecture_changes(folder, compiled) + problems if compiled is not None else problems
        shown = "\n  ".join(problems[:12]) + ("\n  ..." if len(problems) > 12 else "")
        raise CheckpointError(f"--init-from {source}: the architecture does not match this spec:\n  {shown}",
                              code="E410", hint="compare the specs with `spinlock-spec diff`")
    model.load_state_dict(other.state_dict())
    log.info(f"Initialized weights from {source}")


def _init_categories(source, compiled, prepared, log) -> list[list[int]] | None:
    """--init-from: the initial categories of the source (its initial_categories.json), so
    that the model built here has the groups its weights were trained with (clustering other
    data, or the same data differently cleaned, may group the features differently).
    None (categories found as usual) when the source has none or they do not cover exactly
    this spec's features; the architecture check then names what differs."""
    from spinlock_spec.assemble.families import family_inputs
    from spinlock_spec.nn.layout import feature_layout

    path = _model_folder(source) / INITIAL_CATEGORIES_FILE
    try:
        categories = [[int(i) for i in c] for c in json.loads(path.read_text())["categories"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    slots = feature_layout(family_inputs(compiled.graph, prepared.train))
    n_features = slots[-1].stop if slots else 0
    if sorted(i for c in categories for i in c) != list(range(n_features)):
        log.info(f"--init-from {source}: its categories do not cover this spec's {n_features} "
                 "features; finding categories as usual")
        return None
    log.info(f"Categories from {source} ({INITIAL_CATEGORIES_FILE}), the ones its weights were "
             "trained with")
    return categories


def _model_folder(source) -> Path:
    text = str(source)
    if is_zoo_ref(text):
        from spinlock_spec.zoo import entry_dir

        folder = Path(entry_dir(text))
        if not any((folder / name).is_file() for name in (BEST_MODEL_FILE, FINAL_MODEL_FILE)):
            raise CheckpointError(f"{text} is a spec-only zoo entry: it has no pretrained weights",
                                  code="E404", hint=f"train it (spinlock-spec train {text}); "
                                  "`spinlock-spec zoo list` shows which entries have weights")
        return folder
    return Path(text)


# --------------------------------------------------------------------------- runs and encode
@dataclass
class Run:
    path: Path
    model: Any
    metadata: dict
    compiled: Any
    preprocessor: Any


def load_run(path, which: str = "best") -> Run:
    """A trained run (a run folder or a pulled zoo entry ``zoo:NAME``)."""
    from spinlock_spec.train.checkpoint import load_model

    from spinlock_spec.run_setup import check_run_folder, check_spec_hash, load_normalization

    folder = _model_folder(path)
    check_run_folder(folder)
    compiled = compile_spec(folder / CONFIG_FILE)
    _require_ok(compiled)
    model, meta = load_model(folder, which=which)
    meta_name = FINAL_MODEL_FILE if which == "final" else BEST_MODEL_FILE
    check_spec_hash(folder, compiled, meta, meta_name)
    pre = load_normalization(folder, meta, meta_name)        # read once: parsed, checked, hashed
    return Run(folder, model, meta, compiled, pre)


def encode(run: Run | str | Path, data, *, batch_size: int = 4096, reconstructions: bool = False) -> dict:
    """Token ids [N, categories, levels] of every row of ``data`` (a dataset file)."""
    import numpy as np
    import torch

    if not isinstance(run, Run):
        run = load_run(run)
    dataset = run.preprocessor.transform(load_data(run.compiled, data))
    arrays = {k: torch.as_tensor(np.asarray(v)) for k, v in dataset.arrays.items()}
    n = dataset.n_samples
    codes, recon = [], {}
    model = run.model
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = {k: v[start:start + batch_size] for k, v in arrays.items()}
            c = model.encode(batch)
            codes.append(c.cpu())
            if reconstructions:
                for fam, value in model.decode_codes(c).items():
                    recon.setdefault(fam, []).append(value.cpu())
    result = {"tokens": torch.cat(codes).numpy().astype(np.int64),
              "codebook_sizes": model.codebook_sizes.cpu().numpy()}
    if recon:
        from spinlock_spec.data.decode import decode

        model_space = {fam: torch.cat(parts).numpy() for fam, parts in recon.items()}
        for fam, value in model_space.items():
            result[f"reconstruction/{fam}"] = value
        # every input column of a tabular family, in the user's units (data/decode.py)
        for fam, value in decode(run.preprocessor, model_space).items():
            stats = run.preprocessor.families.get(fam)
            if getattr(stats, "input_names", None) is not None and value.ndim == 2:
                result[f"decoded/{fam}"] = value
                result[f"decoded/{fam}/column_names"] = np.array(stats.input_names, dtype=str)
    return result
