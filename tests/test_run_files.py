"""Run files of the wrong shape and library warnings (issue 17): ``report`` of a run whose
``categories.json`` or ``metrics.jsonl`` was edited into another shape is one E401 message
naming the file and the field; library warnings go to the debug log, not the console."""
from __future__ import annotations

import json
import logging
import shutil
import warnings

import numpy as np
import pytest

import spinlock_spec as ss
from helpers import MINIMAL_SPEC, main_exit_code

TINY = MINIMAL_SPEC + "training:\n  batch_size: 64\n  num_epochs: 1\ndataset:\n  synthetic:\n    n_samples: 300\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    spec = root / "tiny.yaml"
    spec.write_text(MINIMAL_SPEC + "training:\n  batch_size: 64\n  num_epochs: 1\n")
    ss.train(spec, out=root / "A", quiet=True, progress=False, overrides=["dataset.synthetic.n_samples=300"])
    (root / "A" / ".lock").unlink(missing_ok=True)
    return root / "A"


@pytest.mark.parametrize("doc, where", [
    ([], "the document must be a mapping, not list []"),
    ({"categories": 5}, "categories must be a list, not int 5"),
    ({"categories": [[1, 2]]}, "categories[0] must be a mapping, not list [1, 2]"),
    ({"categories": [{"features": [{"index": "three"}]}]}, "categories[0].features[0].index must be an integer"),
    ({"categories": [], "num_features": "sixty"}, "num_features must be an integer"),
    ({"categories": [], "num_categories": 6.0}, "num_categories must be an integer, not float 6.0"),
    (True, "the document must be a mapping, not bool True"),
])
def test_report_of_categories_json_of_the_wrong_shape(run, tmp_path, capsys, doc, where):
    folder = tmp_path / "A"
    shutil.copytree(run, folder)
    (folder / "categories.json").write_text(json.dumps(doc))
    for argv in (["report", folder, "--no-data", "--out", tmp_path / "rep"],
                 ["report", folder, "--no-data", "--format", "json"]):
        assert main_exit_code(argv) == 2
        err = capsys.readouterr().err
        assert f"categories.json: {where}" in err and "error[E401]" in err, err


def test_report_of_an_epoch_record_of_the_wrong_shape(run, tmp_path, capsys):
    folder = tmp_path / "A"
    shutil.copytree(run, folder)
    record = json.loads((folder / "metrics.jsonl").read_text().splitlines()[0])
    record["metrics"] = [1, "x"]
    (folder / "metrics.jsonl").write_text(json.dumps(record) + "\n")
    assert main_exit_code(["report", folder, "--no-data", "--out", tmp_path / "rep"]) == 2
    err = capsys.readouterr().err
    assert "metrics.jsonl:1: metrics must be a mapping, not list [1, 'x']" in err, err


def test_an_unedited_run_reports(run, tmp_path):
    assert main_exit_code(["report", run, "--no-data", "--out", tmp_path / "rep"]) == 0
    assert (tmp_path / "rep" / "index.html").is_file()


def test_library_warnings_go_to_the_debug_log(run, capsys):
    assert main_exit_code(["compile", run / "config.yaml"]) == 0       # installs the routing
    capsys.readouterr()
    seen: list[str] = []

    class Listen(logging.Handler):      # on the project logger itself (a CLI run stops its propagation)
        def emit(self, record):
            seen.append(record.getMessage())

    logger = logging.getLogger("spinlock_spec")
    handler, level, handlers = Listen(level=logging.DEBUG), logger.level, logger.handlers
    logger.handlers = [handler]          # only ours: earlier CLI runs left handlers on closed streams
    logger.setLevel(logging.DEBUG)
    try:
        with np.errstate(divide="warn"), warnings.catch_warnings():
            warnings.simplefilter("always")
            from spinlock_spec.logs import warnings_to_debug_log

            warnings_to_debug_log()       # catch_warnings restored the default display on entry
            np.log(np.zeros(1))
    finally:
        logger.handlers = handlers
        logger.setLevel(level)
    captured = capsys.readouterr()
    assert "divide by zero" not in captured.err + captured.out
    assert any("[RuntimeWarning] divide by zero" in m for m in seen), seen
