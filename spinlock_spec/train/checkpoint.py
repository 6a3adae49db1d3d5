"""Checkpoint files: safetensors for tensors, JSON for everything else.

No pickle anywhere: weights and optimizer moments are safetensors, the model's
construction config, metrics, RNG positions and optimizer hyper-parameters are
JSON.  Every pair is ``<stem>.safetensors`` + ``<stem>.json``; the JSON names
the tensor file and records its sha256, so a truncated or swapped file is
reported as a :class:`CheckpointError` instead of loading garbage.

Files:
  best_model.{safetensors,json}    model weights + metadata (the best validation epoch)
  final_model.{safetensors,json}   model weights + metadata (the last epoch)
  checkpoint.{safetensors,json}    resumable training state (see trainer.resume_from)
"""
from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any
from collections.abc import Mapping

import numpy as np
import torch

from ..errors import CheckpointError
from ..runs.folder import RunDir, dumps_json, sigint_deferred
from ..runs.names import BEST_STEM, FINAL_MODEL_FILE, FINAL_STEM, meta_file

MODEL_FORMAT = "spinlock-spec/model"
STATE_FORMAT = "spinlock-spec/training-state"
FORMAT_VERSION = 1
MODEL_CLASSES = ("CategoricalHierarchicalVQVAE", "LearnableCategoricalVQVAE")
_COMPILE_PREFIX = "_orig_mod."


# --------------------------------------------------------------------------- tensors
def strip_compile_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove torch.compile's ``_orig_mod.`` prefix (anywhere in the key) from state keys."""
    return {k.replace(_COMPILE_PREFIX, ""): v for k, v in state.items()}


def model_state_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict as standalone CPU tensors, ready for safetensors."""
    raw = getattr(model, "_orig_mod", model)
    state = strip_compile_prefix(raw.state_dict())
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def to_plain(obj: Any) -> Any:
    """JSON round trip (tuples become lists, numpy scalars plain) for comparisons."""
    return json.loads(dumps_json(obj, indent=None))


_STATE_DEPENDENT_CONFIG_KEYS = ("temperature", "hard_categories")


def structural_config(cfg: Any) -> Any:
    """A model export_config without the entries that change while training
    (learnable temperature, current hard categories): what must match to resume."""
    if not isinstance(cfg, dict):
        return to_plain(cfg)
    return to_plain({k: v for k, v in cfg.items() if k not in _STATE_DEPENDENT_CONFIG_KEYS})


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _serialize(tensors: Mapping[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save
    return save(dict(tensors))


def _deserialize(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load
    try:
        return load(data)
    except Exception as exc:  # SafetensorError and friends
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})",
                              code="E401") from None


# --------------------------------------------------------------------------- pairs
def previous_weights(weights_path: Path) -> Path:
    """``X.prev.safetensors``: the weights of the last committed pair while ``X`` is rewritten."""
    return weights_path.with_name(weights_path.stem + ".prev" + weights_path.suffix)


def _committed_sha(json_path: Path) -> str | None:
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
        return meta.get("weights_sha256") if isinstance(meta, dict) else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _hold_for_test(stem: str, step: str, run_dir: RunDir) -> None:
    """Test hook (SPINLOCK_SPEC_TEST_HOLD_WRITE=STEM:STEP): stop between the writes of a pair
    so that a test can kill the process there; announces itself with a marker file."""
    if os.environ.get("SPINLOCK_SPEC_TEST_HOLD_WRITE") != f"{stem}:{step}":
        return
    import time
    (run_dir.path / f".test-held-{stem}-{step}").write_text(str(os.getpid()))
    time.sleep(600)


def write_pair(run_dir: RunDir, stem: str, tensors: Mapping[str, torch.Tensor],
               metadata: Mapping[str, Any]) -> Path:
    """Commit ``stem.safetensors`` + ``stem.json`` as one unit (Ctrl-C held off).

    The JSON (with the sha256 of the weights) is the commit: while the weights are
    replaced, the committed ones stay as ``stem.prev.safetensors``, so that a process
    killed between the two writes leaves the previous pair readable (:func:`read_pair`
    falls back to it and says so)."""
    data = _serialize(tensors)
    meta = dict(metadata)
    meta["weights_file"] = f"{stem}.safetensors"
    meta["weights_sha256"] = _sha256(data)
    text = dumps_json(meta) + "\n"
    weights, json_path = run_dir.file(f"{stem}.safetensors"), run_dir.file(f"{stem}.json")
    previous = previous_weights(weights)
    with sigint_deferred():
        run_dir.clean_temp_files()
        committed = _committed_sha(json_path)
        if committed is not None and weights.is_file() and _sha256(weights.read_bytes()) == committed:
            os.replace(weights, previous)       # keep the committed weights until the new JSON lands
        _hold_for_test(stem, "weights", run_dir)
        run_dir.write_bytes(f"{stem}.safetensors", data)
        _hold_for_test(stem, "json", run_dir)
        run_dir.write_text(f"{stem}.json", text)
        if previous.exists():
            previous.unlink()
    return json_path


def read_pair(json_path: str | os.PathLike, *, expected_format: str
              ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read and verify a ``stem.json`` + ``stem.safetensors`` pair (falling back to the
    committed ``stem.prev.safetensors`` after a write that was killed half-way)."""
    json_path = Path(json_path)
    if not json_path.is_file():
        raise CheckpointError(f"{json_path}: checkpoint metadata file not found", code="E400")
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{json_path}: corrupt checkpoint metadata ({exc})",
                              code="E401") from None
    if not isinstance(meta, dict) or meta.get("format") != expected_format:
        raise CheckpointError(
            f"{json_path}: not a {expected_format} file (format={meta.get('format') if isinstance(meta, dict) else None!r})",
            code="E401")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{json_path}: format_version must be an integer, not {version!r}",
                              code="E401")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{json_path}: written by a newer spinlock-spec "
                              f"(format_version {version})", code="E405")
    weights_name = meta.get("weights_file")
    if not isinstance(weights_name, str) or "/" in weights_name or "\\" in weights_name:
        raise CheckpointError(f"{json_path}: metadata names no valid weights file", code="E401")
    weights_path = json_path.with_name(weights_name)
    data = weights_path.read_bytes() if weights_path.is_file() else None
    if data is None or meta.get("weights_sha256") != _sha256(data):
        previous = previous_weights(weights_path)
        older = previous.read_bytes() if previous.is_file() else None
        if older is not None and meta.get("weights_sha256") == _sha256(older):
            from ..logs import get_logger
            get_logger().warning(f"{weights_path}: an interrupted write left it incomplete; using the last "
                                 f"complete checkpoint ({previous.name}, epoch {meta.get('epoch')})")
            return _deserialize(older, previous), meta
        if data is None:
            raise CheckpointError(f"{weights_path}: weights file not found (named by {json_path.name})",
                                  code="E400")
        raise CheckpointError(
            f"{weights_path}: checksum mismatch with {json_path.name} "
            "(the file is truncated, corrupt or belongs to another checkpoint)", code="E401")
    return _deserialize(data, weights_path), meta


def load_state_into(model: torch.nn.Module, state: Mapping[str, torch.Tensor], path: Path) -> None:
    """``load_state_dict(strict=True)`` with mismatches reported as CheckpointError."""
    raw = getattr(model, "_orig_mod", model)
    state = strip_compile_prefix(state)
    own = raw.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensor(s) e.g. {missing[:3]}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} tensor(s) e.g. {unexpected[:3]}")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} shape mismatch(es) e.g. {k}: file {tuple(state[k].shape)} "
                         f"vs model {tuple(own[k].shape)}")
        raise CheckpointError(f"{path}: weights do not match the model ({'; '.join(parts)})",
                              code="E402")
    raw.load_state_dict(dict(state), strict=True)


# --------------------------------------------------------------------------- models
def model_metadata(model: torch.nn.Module, *, spec_hash: str | None, epoch: int,
                   metrics: Mapping[str, Any] | None, extra: Mapping[str, Any] | None = None
                   ) -> dict[str, Any]:
    raw = getattr(model, "_orig_mod", model)
    meta: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "model_class": type(raw).__name__,
        "spec_hash": spec_hash,
        "epoch": int(epoch),
        "model_config": raw.export_config(),
        "feature_names": list(getattr(raw, "feature_names", []) or []),
        "codebook_sizes": _tolist(getattr(raw, "codebook_sizes", None)),
        "metrics": dict(metrics or {}),
        "torch_version": torch.__version__,
    }
    if hasattr(raw, "hard_assignment"):
        with torch.no_grad():
            meta["temperature"] = float(raw.temperature)
            meta["hard_assignment"] = raw.hard_assignment().cpu().tolist()
    if extra:
        meta.update(extra)
    return meta


def _tolist(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value


def save_model(run_dir: RunDir, stem: str, model: torch.nn.Module, *, spec_hash: str | None,
               epoch: int, metrics: Mapping[str, Any] | None = None,
               extra: Mapping[str, Any] | None = None) -> Path:
    meta = model_metadata(model, spec_hash=spec_hash, epoch=epoch, metrics=metrics, extra=extra)
    return write_pair(run_dir, stem, model_state_tensors(model), meta)


def _model_json_path(run_or_file: str | os.PathLike | RunDir, which: str) -> Path:
    p = Path(run_or_file.path if isinstance(run_or_file, RunDir) else run_or_file)
    if p.is_dir():
        candidates = [p / meta_file(FINAL_STEM if which == "final" else BEST_STEM)]
        if which == "best":
            candidates.append(p / FINAL_MODEL_FILE)
        for c in candidates:
            if c.is_file():
                return c
        raise CheckpointError(f"{p}: no {candidates[0].name} in this run folder "
                              "(is it a spinlock-spec run? was training interrupted before epoch 1?)",
                              code="E400")
    if p.suffix == ".safetensors":
        return p.with_suffix(".json")
    if p.suffix == ".pt":
        raise CheckpointError(f"{p}: pickled PyTorch checkpoints are not loaded (unsafe); "
                              "spinlock-spec reads <name>.safetensors + <name>.json", code="E406")
    return p


def resolve_model_class(name: Any, path: Path) -> type:
    if name not in MODEL_CLASSES:
        raise CheckpointError(f"{path}: unknown model_class {name!r} "
                              f"(expected one of {', '.join(MODEL_CLASSES)})", code="E401")
    from ..nn import model as model_module
    return getattr(model_module, name)


def load_model(run_or_file: str | os.PathLike | RunDir, *, which: str = "best",
               expected_spec_hash: str | None = None, device: str | torch.device = "cpu"
               ) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a trained model from a run folder (``which``: best | final) or a model file.

    ``run_or_file`` may be the run folder, ``X.json`` or ``X.safetensors``.
    Returns ``(model in eval mode, metadata dict)``.
    """
    json_path = _model_json_path(run_or_file, which)
    tensors, meta = read_pair(json_path, expected_format=MODEL_FORMAT)
    if expected_spec_hash is not None and meta.get("spec_hash") not in (None, expected_spec_hash):
        raise CheckpointError(
            f"{json_path}: checkpoint is from another spec (spec hash {str(meta.get('spec_hash'))[:12]} "
            f"!= {expected_spec_hash[:12]})", code="E403")
    cls = resolve_model_class(meta.get("model_class"), json_path)
    cfg = meta.get("model_config")
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{json_path}: metadata has no model_config", code="E401")
    try:
        model = cls.from_config(cfg)
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"{json_path}: cannot rebuild {cls.__name__} from its model_config "
                              f"({type(exc).__name__}: {exc})", code="E402") from None
    load_state_into(model, tensors, json_path.with_name(meta["weights_file"]))
    if "temperature" in meta and hasattr(model, "temperature"):
        model.temperature = float(meta["temperature"])
    model.to(device)
    model.eval()
    return model, meta


# --------------------------------------------------------------------------- optimizer
def flatten_optimizer(opt: torch.optim.Optimizer, prefix: str
                      ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into tensors (safetensors) and JSON-able scalars."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.state.{pid}.{key}"] = value.detach().to("cpu").contiguous().clone()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
              for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalar_state": scalars}


def unflatten_optimizer(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any], prefix: str
                        ) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    head = f"{prefix}.state."
    for name, value in tensors.items():
        if name.startswith(head):
            pid, key = name[len(head):].split(".", 1)
            state.setdefault(int(pid), {})[key] = value
    for pid, st in (meta.get("scalar_state") or {}).items():
        state.setdefault(int(pid), {}).update(st)
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


# --------------------------------------------------------------------------- RNG
def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng.torch": torch.get_rng_state().clone()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s.clone()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["rng.numpy.keys"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    py = random.getstate()
    meta = {"numpy": {"kind": kind, "pos": int(pos), "has_gauss": int(has_gauss),
                      "cached_gaussian": float(cached)},
            "python": [py[0], list(py[1]), py[2]]}
    return tensors, meta


def restore_rng(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"].to(torch.uint8))
    cuda = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.split(".")[-1]))
    if cuda and torch.cuda.is_available():
        states = [tensors[k].to(torch.uint8) for k in cuda]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
    npm = meta.get("numpy")
    if npm and "rng.numpy.keys" in tensors:
        keys = tensors["rng.numpy.keys"].numpy().astype(np.uint32)
        np.random.set_state((npm["kind"], keys, npm["pos"], npm["has_gauss"], npm["cached_gaussian"]))
    py = meta.get("python")
    if py:
        random.setstate((py[0], tuple(py[1]), py[2]))
