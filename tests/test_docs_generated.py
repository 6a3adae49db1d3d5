"""docs/reference.md and docs/rules.md are generated (scripts/gen_docs.py) and must be
up to date; they cover every schema key and every rule; shell completion works."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spinlock_spec.docs_gen import REGENERATE, generated_docs, reference_markdown

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.mark.parametrize("name", sorted(generated_docs()))
def test_generated_docs_are_up_to_date(name, tmp_path):
    fresh = tmp_path / name
    fresh.write_text(generated_docs()[name], encoding="utf-8")
    checked_in = DOCS / name
    assert checked_in.is_file(), f"docs/{name} is missing; {REGENERATE}"
    assert checked_in.read_text(encoding="utf-8") == fresh.read_text(encoding="utf-8"), (
        f"docs/{name} is stale (the schema or the rules changed); {REGENERATE}")


def test_check_mode_of_the_script_detects_stale_docs(tmp_path):
    script = ROOT / "scripts" / "gen_docs.py"
    res = subprocess.run([sys.executable, str(script), "--check", "--docs", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and REGENERATE in res.stderr
    res = subprocess.run([sys.executable, str(script), "--docs", str(tmp_path)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0
    res = subprocess.run([sys.executable, str(script), "--check", "--docs", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def _schema_keys(node, prefix=""):
    for key, child in (node.get("properties") or {}).items():
        yield prefix + key
        yield from _schema_keys(child, prefix + key + ".")
        items = child.get("items")
        if isinstance(items, dict):
            yield from _schema_keys(items, prefix + key + "[].")


def test_reference_lists_every_schema_key_with_default_and_description():
    from spinlock_spec.resources import schema_dir

    schema = json.loads((schema_dir() / "spinlock-spec.schema.json").read_text())
    text = reference_markdown(schema)
    keys = [k for k in _schema_keys(schema) if not k.startswith("families")]
    assert len(keys) > 80
    for key in keys:
        if key in schema["properties"] and schema["properties"][key].get("type") == "object":
            assert f"## `{key}`" in text, f"section {key} missing from the reference"
            continue
        rows = [line for line in text.splitlines() if line.startswith(f"| `{key}` |")]
        assert rows, f"{key} missing from the reference"
    row = next(line for line in text.splitlines() if line.startswith("| `training.batch_size` |"))
    assert "integer" in row and "`256`" in row and ">= 1" in row and "Samples per batch" in row
    row = next(line for line in text.splitlines()
               if line.startswith("| `learnable_assignment.temperature_schedule` |"))
    assert '`"linear"`' in row and '`"cosine"`' in row and '`"exponential"`' in row
    # every encoder's params
    for name in ("identity", "mlp", "temporal_cnn", "pyramid_temporal", "initial_cnn", "initial_hybrid"):
        assert f"#### `{name}`" in text
    assert "| `encoder_params.output_dim` |" in text


def test_reference_follows_schema_changes():
    schema = {"description": "d", "properties": {"training": {
        "type": "object", "description": "t", "properties": {
            "new_knob": {"type": "integer", "default": 7, "minimum": 2, "description": "A new knob."}}}}}
    text = reference_markdown(schema)
    assert "| `training.new_knob` | integer | `7` | >= 2 | A new knob. |" in text


def test_rules_doc_has_every_rule_with_a_triggering_example():
    from spinlock_spec.compile.rules import RULES

    text = (DOCS / "rules.md").read_text()
    for r in RULES:
        section = text.split(f"## `{r.id}`", 1)
        assert len(section) == 2, r.id
        body = section[1].split("\n## ", 1)[0]
        assert f"**{r.severity}**" in body and r.hint in body
        assert f"{r.severity}[{r.id}]" in body, f"{r.id}: example output missing"


def test_completion_scripts_are_produced():
    exe = shutil.which("spinlock-spec")
    if exe is None:
        pytest.skip("spinlock-spec is not installed on PATH (pip install -e .)")
    for shell, needle in (("bash", "complete -o nosort -F _spinlock_spec_completion spinlock-spec"),
                          ("zsh", "#compdef spinlock-spec"),
                          ("fish", "complete --no-files --command spinlock-spec")):
        res = subprocess.run([exe], env={**os.environ, "_SPINLOCK_SPEC_COMPLETE": f"{shell}_source"},
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0 and needle in res.stdout, (shell, res.stdout[:500], res.stderr)


def test_bash_completion_completes_commands_and_options():
    exe = shutil.which("spinlock-spec")
    bash = shutil.which("bash")
    if exe is None or bash is None:
        pytest.skip("needs spinlock-spec on PATH and bash")
    script = ('eval "$(_SPINLOCK_SPEC_COMPLETE=bash_source spinlock-spec)"\n'
              'COMP_WORDS=(spinlock-spec rep); COMP_CWORD=1; _spinlock_spec_completion spinlock-spec\n'
              'echo "cmd:${COMPREPLY[*]}"\n'
              'COMPREPLY=(); COMP_WORDS=(spinlock-spec report --for); COMP_CWORD=2\n'
              '_spinlock_spec_completion spinlock-spec; echo "opt:${COMPREPLY[*]}"\n'
              'COMPREPLY=(); COMP_WORDS=(spinlock-spec report --format ""); COMP_CWORD=3\n'
              '_spinlock_spec_completion spinlock-spec; echo "val:${COMPREPLY[*]}"\n')
    res = subprocess.run([bash, "--norc", "-c", script], capture_output=True, text=True, timeout=120)
    assert "cmd:report" in res.stdout, res.stdout + res.stderr
    assert "opt:--format" in res.stdout
    assert "val:text json html" in res.stdout
