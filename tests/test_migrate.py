"""``spinlock-spec migrate``: the canonical form of every accepted file, with the same hash."""
from __future__ import annotations

import re

import pytest
from helpers import EXAMPLES, FIXTURES, assert_user_error, cli

from spinlock_spec.compile import compile_spec
from spinlock_spec.config.migrate import migrate_file

ACCEPTED = sorted([*FIXTURES.glob("*.yaml"), *(FIXTURES / "original_format").glob("*.yaml"),
                   *(FIXTURES / "saved_runs").glob("*.yaml"), *EXAMPLES.glob("*.yaml")])
LEGACY_CODES = {"I102", "I301", "I302", "I303", "W300", "W303", "W304"}


@pytest.mark.parametrize("spec", ACCEPTED, ids=lambda p: p.name)
def test_migrated_file_has_the_same_hash_and_nothing_left_to_migrate(spec, tmp_path):
    out = tmp_path / "sub" / spec.name
    out.parent.mkdir()
    migration = migrate_file(spec, out)
    out.write_text(migration.text)
    before, after = compile_spec(spec), compile_spec(out)
    assert after.hash == before.hash
    assert "!!" not in migration.text
    left = [d for d in after.diagnostics if d.code in LEGACY_CODES]
    assert not left, [d.format() for d in left]
    assert migrate_file(out, out).changes == []                    # idempotent
    legacy = sorted((d.line, d.code) for d in before.diagnostics if d.code in LEGACY_CODES)
    assert sorted((d.line, d.code) for d in migration.changes if d.code != "M100") == legacy


def test_saved_run_config_becomes_a_tag_free_spec_with_the_same_hash(tmp_path):
    old = FIXTURES / "saved_runs" / "saved_run_config_numpy1.yaml"
    new = tmp_path / "spec.yaml"
    proc = cli("migrate", old, "-o", new)
    assert proc.returncode == 0, proc.stderr
    text = new.read_text()
    assert "python/" not in text and "!!binary" not in text
    lines = proc.stdout.splitlines()
    tags = [ln for ln in lines if ": tag decoded: " in ln]
    tagged = [i + 1 for i, ln in enumerate(old.read_text().splitlines())
              if "PosixPath" in ln or "multiarray.scalar" in ln
              or (ln.rstrip().endswith("!!python/tuple") and "state:" not in ln)]
    assert [int(ln.split(":")[1]) for ln in tags] == tagged and len(tagged) == 15
    assert any(":2:1: moved: 'dataset_path' is read as 'dataset.path'" in ln for ln in lines)
    assert any("dropped (no effect): 'training.checkpoint_dir'" in ln for ln in lines)
    assert any("path rewritten" in ln and "dataset.path" in ln for ln in lines)
    assert compile_spec(new).hash == compile_spec(old).hash
    assert lines[-1].startswith("19 change(s);") and compile_spec(new).hash[:16] in lines[-1]
    proc = cli("compile", new)
    assert proc.returncode == 0 and "I102" not in proc.stderr + proc.stdout


def test_comments_stay_and_follow_a_moved_key(tmp_path):
    spec = tmp_path / "old.yaml"
    spec.write_text("# my experiment\n"
                    "dataset_path: data.h5   # the big file\n"
                    "families:\n"
                    "  summary: {encoder: identity}   # raw columns\n"
                    "batch_size: 128    # fits the GPU\n"
                    "training:\n"
                    "  num_epochs: 5\n"
                    "  checkpoint_dir: ckpt   # gone\n")
    proc = cli("migrate", spec)
    assert proc.returncode == 0, proc.stderr
    assert re.sub(r" +#", " #", proc.stdout) == ("# my experiment\n"
                           "dataset:\n"
                           "  path: data.h5 # the big file\n"
                           "families:\n"
                           "  summary: {encoder: identity} # raw columns\n"
                           "training:\n"
                           "  num_epochs: 5\n"
                           "  batch_size: 128 # fits the GPU\n")
    assert "old.yaml:2:1: moved: 'dataset_path' is read as 'dataset.path'" in proc.stderr
    assert "old.yaml:5:1: moved: 'batch_size' is read as 'training.batch_size'" in proc.stderr
    assert "old.yaml:8:3: dropped (no effect): 'training.checkpoint_dir'" in proc.stderr
    assert spec.read_text().startswith("# my experiment\ndataset_path")          # untouched without -o


def test_in_place_and_extends_relative_to_the_new_folder(tmp_path):
    (tmp_path / "base.yaml").write_text("families: {summary: {encoder: identity}}\nepochs: 3\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nmodel: {ema_decay: 0.95}\n")
    target = tmp_path / "moved" / "child.yaml"
    target.parent.mkdir()
    proc = cli("migrate", tmp_path / "child.yaml", "-o", target)
    assert proc.returncode == 0, proc.stderr
    assert target.read_text() == "extends: ../base.yaml\nmodel: {decay: 0.95}\n"
    assert compile_spec(target).hash == compile_spec(tmp_path / "child.yaml").hash
    proc = cli("migrate", tmp_path / "base.yaml", "-o", tmp_path / "base.yaml")
    assert proc.returncode == 0 and (tmp_path / "base.yaml").read_text() == (
        "families: {summary: {encoder: identity}}\ntraining:\n  num_epochs: 3\n")


def test_a_file_that_does_not_compile_is_a_located_error_and_nothing_is_written(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("families: {x: {encoder: ICCNNEncoder}}\nv: !!python/object/apply:os.system [true]\n")
    proc = cli("migrate", spec, "-o", tmp_path / "new.yaml")
    assert_user_error(proc, "bad.yaml:2:4: error[E102]")
    assert not (tmp_path / "new.yaml").exists()
    assert not list(tmp_path.glob(".*tmp"))
