"""Every key, null and older layout of the original format compiles with its documented mapping
or warning (shared/reference/spinlock-format.md; docs/migration.md)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from spinlock_spec.config import resolve
from spinlock_spec.errors import SpecError
from spinlock_spec.registry import ENCODERS


def _error(text: str):
    with pytest.raises(SpecError) as info:
        resolve(text)
    return [d for d in info.value.diagnostics if d.severity == "error"]


# --------------------------------------------------------------------------- encoder names

def test_unknown_encoder_names_the_nearest_registry_entry_with_all_its_spellings(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("families:\n  initial: {encoder: ICCNNEncoder}\n")
    proc = subprocess.run([sys.executable, "-m", "spinlock_spec", "compile", str(spec)], capture_output=True,
                          text=True)
    assert proc.returncode == 2, proc.stderr
    assert "s.yaml:2:22: error[E207]" in proc.stderr
    assert "did you mean 'ic_cnn' / 'initial_cnn' / 'InitialCNNEncoder'?" in proc.stderr


@pytest.mark.parametrize("typo, expected", [
    ("TDCNNEncoder", "temporal_cnn"), ("MLPEncodr", "mlp"), ("initial_hybrd", "initial_hybrid"),
    ("PyramidEncoder", "pyramid_temporal"), ("IdentEncoder", "identity")])
def test_nearest_encoder_is_the_right_entry(typo, expected):
    assert ENCODERS.nearest(typo)[0][0] in (ENCODERS.get(expected).name, *ENCODERS.get(expected).aliases)
    (err,) = _error(f"families: {{x: {{encoder: {typo}}}}}\n")
    assert err.code == "E207" and f"'{expected}'" in err.hint.split("valid values")[0]


def test_a_tie_names_both_entries():
    (err,) = _error("families: {x: {encoder: cnn}}\n")
    suggestion = err.hint.split("valid values")[0]
    assert "'td_cnn'" in suggestion and "'ic_cnn'" in suggestion and "'identity'" not in suggestion
