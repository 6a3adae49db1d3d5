"""Report building blocks without training: run-folder reading (partial and corrupt
folders), per-epoch series, block ordering of the assignment, TensorBoard scalars
and the missing-TensorBoard error."""
from __future__ import annotations

import builtins
import json

import numpy as np
import pytest

from spinlock_spec.errors import CheckpointError, UserError
from spinlock_spec.assignment_plot import block_bounds, block_order
from spinlock_spec.runs.reader import read_run
from spinlock_spec.report.series import codebook_grid, parse_codebook_key, series_from_records


def record(epoch: int, *, learnable: bool = True) -> dict:
    metrics = {"epoch": epoch, "utilization": 0.5, "utilization_per_level": [0.6, 0.4],
               "perplexity": 3.0}
    for k in range(3):
        for l in range(2):
            metrics[f"category_{k}/level_{l}/utilization"] = 0.1 * (k + l + 1)
            metrics[f"category_{k}/level_{l}/perplexity"] = float(k + l + 1 + epoch)
            metrics[f"category_{k}/level_{l}/dead_codes"] = 3
    r = {"epoch": epoch, "num_epochs": 5, "train_loss": 1.0 / epoch, "val_loss": 1.1 / epoch,
         "components": {"recon": 0.8 / epoch, "vq": 0.01}, "val_components": {"recon": 0.9 / epoch, "vq": 0.01},
         "utilization": 0.5, "lr": 1e-3, "metrics": metrics}
    if learnable:
        r.update(assign={"assign_orthogonality": 0.1 / epoch, "assign_balance": 0.01},
                 assign_total=0.1 / epoch + 0.01, temperature=1.0 - 0.2 * epoch)
    return r


def write_run(folder, records, *, tail: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text("families: {summary: {encoder: identity}}\n")
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + tail)


# --------------------------------------------------------------------------- run folder
def test_partial_run_is_read_and_last_line_in_progress_skipped(tmp_path):
    write_run(tmp_path / "run", [record(1), record(2)], tail='{"epoch": 3, "train_lo')
    run = read_run(tmp_path / "run")
    assert [r["epoch"] for r in run.records] == [1, 2]
    assert not run.finished and run.learnable
    assert any("still training" in n for n in run.notes)


def test_complete_last_line_without_newline_counts(tmp_path):
    write_run(tmp_path / "run", [record(1)], tail=json.dumps(record(2)))
    assert [r["epoch"] for r in read_run(tmp_path / "run").records] == [1, 2]


def test_corrupt_line_in_the_middle_is_a_checkpoint_error(tmp_path):
    folder = tmp_path / "run"
    write_run(folder, [record(1)])
    (folder / "metrics.jsonl").write_text(json.dumps(record(1)) + "\n{oops\n" + json.dumps(record(2)) + "\n")
    with pytest.raises(CheckpointError, match=r"metrics.jsonl:2: corrupt JSON line"):
        read_run(folder)


def test_corrupt_json_file_is_a_checkpoint_error(tmp_path):
    folder = tmp_path / "run"
    write_run(folder, [record(1)])
    (folder / "categories.json").write_text('{"mode": "learn')
    with pytest.raises(CheckpointError, match="categories.json: corrupt JSON"):
        read_run(folder)


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_not_a_run_folder(tmp_path, kind):
    target = tmp_path / "x"
    if kind == "file":
        target.write_text("x")
    elif kind == "empty":
        target.mkdir()
    with pytest.raises(CheckpointError) as err:
        read_run(target)
    assert err.value.exit_code == 2


def test_cli_exit_code_and_message_for_corrupt_run(tmp_path, capsys):
    from spinlock_spec.cli.main import main

    folder = tmp_path / "run"
    write_run(folder, [record(1)])
    (folder / "training_history.json").write_text("[1, 2")
    with pytest.raises(SystemExit) as exc:
        main(["report", str(folder)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "training_history.json: corrupt JSON" in err and "Traceback" not in err


def test_history_only_run_gives_records(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    history = {"epochs": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.2, 0.6],
               "train_components": [{"recon": 0.9, "assign_balance": 0.1, "assign_total": 0.1},
                                    {"recon": 0.4, "assign_balance": 0.05, "assign_total": 0.05}],
               "metrics": [{"utilization": 0.3}, {"utilization": 0.4}], "temperature": [1.0, 0.5]}
    (folder / "training_history.json").write_text(json.dumps(history))
    run = read_run(folder)
    assert [r["val_loss"] for r in run.records] == [1.2, 0.6]
    assert run.records[1]["assign"] == {"assign_balance": 0.05} and run.records[1]["temperature"] == 0.5


def test_make_report_on_partial_handmade_run(tmp_path):
    from spinlock_spec.report import make_report

    folder = tmp_path / "run"
    write_run(folder, [record(1, learnable=False), record(2, learnable=False)])
    result = make_report(folder, tmp_path / "out")
    names = {p.name for p in result.figures}
    assert names == {"loss.png", "codebook_curves.png", "codebook_grid.png"}   # static: no learnable.png
    html = result.html.read_text()
    assert all(f'src="{n}"' in html for n in names)
    assert result.summary["epochs_done"] == 2 and result.summary["assignment"] == "static"
    assert [c["name"] for c in result.summary["categories"]] == ["category_0", "category_1", "category_2"]


# --------------------------------------------------------------------------- series
def test_parse_codebook_key():
    assert parse_codebook_key("category_0/level_1/perplexity") == ("category_0", 1, "perplexity")
    assert parse_codebook_key("dyn/amics/level_2/utilization") == ("dyn/amics", 2, "utilization")
    assert parse_codebook_key("utilization") is None
    assert parse_codebook_key("a/level_x/utilization") is None


def test_series_from_records():
    s = series_from_records([record(1), record(2)])
    assert s.epochs == [1, 2]
    assert s.components["recon"] == pytest.approx([0.8, 0.4])
    assert s.utilization_per_level == {0: [0.6, 0.6], 1: [0.4, 0.4]}
    # mean perplexity over the 3 categories at level 0, epoch 1: (2 + 3 + 4) / 3
    assert s.perplexity_per_level[0][0] == pytest.approx(3.0)
    assert s.temperature == pytest.approx([0.8, 0.6]) and s.has_learnable
    assert s.assign["assign_orthogonality"] == pytest.approx([0.1, 0.05])
    cats, levels, grid = codebook_grid(record(1)["metrics"])
    assert cats == ["category_0", "category_1", "category_2"] and levels == 2
    assert grid["utilization"][2][1] == pytest.approx(0.4)


def test_series_of_static_run_has_no_temperature():
    s = series_from_records([record(1, learnable=False)])
    assert s.temperature == [] and not s.has_learnable


# --------------------------------------------------------------------------- assignment order
def test_block_order_groups_categories_most_confident_first():
    m = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.95, 0.05], [0.0, 0.0]])
    order = block_order(m)
    assert order.tolist() == [3, 1, 0, 2, 4]          # cat 0: 0.95, 0.8; cat 1: 0.9, 0.7; unassigned last
    assert block_bounds(m, order) == [2, 4]


# --------------------------------------------------------------------------- tensorboard
def test_epoch_scalars_flatten_the_record():
    from spinlock_spec.train.tensorboard import epoch_scalars

    tags = epoch_scalars(record(2))
    assert tags["loss/val"] == pytest.approx(0.55)
    assert tags["components/recon"] == pytest.approx(0.4)
    assert tags["assign/assign_balance"] == pytest.approx(0.01)
    assert tags["assignment/temperature"] == pytest.approx(0.6)
    assert tags["metrics/utilization_level_1"] == pytest.approx(0.4)
    assert tags["metrics/category_2/level_1/perplexity"] == pytest.approx(6.0)
    assert "metrics/epoch" not in tags


def test_missing_tensorboard_is_a_clear_user_error(monkeypatch):
    from spinlock_spec.train import tensorboard as tbmod

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name == "tensorboard" or name.startswith("tensorboard."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(UserError) as err:
        tbmod.TensorBoardWriter("unused")
    assert "pip install tensorboard" in err.value.format()
    assert err.value.exit_code == 2


def test_tensorboard_is_off_by_default():
    import inspect

    from spinlock_spec.compile import compile_spec
    from spinlock_spec.train.trainer import VQVAETrainer

    assert compile_spec("families: {summary: {encoder: identity}}\n").spec["logging"]["tensorboard"] is False
    assert inspect.signature(VQVAETrainer.__init__).parameters["tensorboard"].default is False
