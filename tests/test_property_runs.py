"""Property test over damaged run folders (issue 17): a file of a trained run is truncated,
has a byte flipped, a JSON field edited, or is swapped with the same file of another run;
then ``encode`` and ``report --format json`` either succeed (encode: with exactly the
undamaged run's tokens) or exit 2 with one message: never exit 3, never wrong tokens."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spinlock_spec as ss
from helpers import main_exit_code

TINY = ("dataset:\n  path: null\nfamilies:\n  summary:\n    encoder: identity\nrandom_seed: {seed}\n"
        "training:\n  batch_size: 64\n  num_epochs: 1\n")
FILES = ["config.yaml", "normalization_stats.npz", "best_model.json", "best_model.safetensors",
         "final_model.json", "initial_categories.json", "categories.json", "metrics.jsonl",
         "training_history.json"]
VALUES = [None, "abc", -1, 3.5, [], {}, True, "0" * 64]
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("prop")
    data = root / "d.h5"
    assert main_exit_code(["data", "synth", "--out", data, "--n", 200, "--seed", 2]) == 0
    out = {}
    for name, seed in (("A", 3), ("B", 4)):
        spec = root / f"{name}.yaml"
        spec.write_text(TINY.format(seed=seed))
        ss.train(spec, data=str(data), out=root / name, quiet=True, progress=False)
        (root / name / ".lock").unlink(missing_ok=True)
    assert main_exit_code(["encode", root / "A", "--data", data, "--out", root / "ref.npz"]) == 0
    out["tokens"] = np.load(root / "ref.npz")["tokens"]
    return root, data, out["tokens"]


def _damage(folder: Path, other: Path, name: str, kind: str, where: float, value) -> None:
    path = folder / name
    raw = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(raw[: int(len(raw) * where)])
    elif kind == "flip":
        i = min(len(raw) - 1, int(len(raw) * where))
        path.write_bytes(raw[:i] + bytes([raw[i] ^ 0xFF]) + raw[i + 1:])
    elif kind == "swap":
        shutil.copy(other / name, path)
    else:                                   # edit a field of a JSON file (else: flip)
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and doc:
            keys = sorted(doc)
            doc[keys[int(where * (len(keys) - 1))]] = value
            path.write_text(json.dumps(doc))
        else:
            _damage(folder, other, name, "flip", where, value)


@settings(max_examples=min(settings().max_examples, 12), deadline=None, suppress_health_check=HEALTH)
@given(name=st.sampled_from(FILES), kind=st.sampled_from(["truncate", "flip", "swap", "edit"]),
       where=st.floats(0.0, 1.0), value=st.sampled_from(VALUES))
def test_damaged_run_folder_encodes_right_or_fails_cleanly(runs, tmp_path_factory, capsys, name, kind,
                                                           where, value):
    root, data, reference = runs
    case = tmp_path_factory.mktemp("case")
    folder = case / "A"
    shutil.copytree(root / "A", folder)
    _damage(folder, root / "B", name, kind, where, value)
    capsys.readouterr()
    code = main_exit_code(["encode", folder, "--data", data, "--out", case / "t.npz"])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    if code == 0:
        np.testing.assert_array_equal(np.load(case / "t.npz")["tokens"], reference)
    else:
        assert err.strip() and "Traceback" not in err and "internal error" not in err
    code = main_exit_code(["report", folder, "--format", "json", "--no-data"])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "internal error" not in err
