"""``spinlock-spec report`` on a real (short) learnable training run, through the CLI:
valid PNG figures referenced by the HTML page, images loading in headless Chromium,
the JSON summary, TensorBoard scalars, and a report of a run still in progress."""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest
from helpers import ROOT
from helpers import cli as run_cli

SPEC = ROOT / "examples" / "learnable_simple_test.yaml"
EPOCHS = 3
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LEARNABLE_FIGURES = {"loss.png", "codebook_curves.png", "learnable.png", "codebook_grid.png",
                     "assignment.png", "code_usage.png", "recon_per_category.png"}
CHROMIUM = "/usr/bin/chromium"


def cli(*args, timeout=600):
    return run_cli(*args, cwd=ROOT, timeout=timeout)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A 3-epoch learnable run on small synthetic data, with TensorBoard on."""
    out = tmp_path_factory.mktemp("report") / "run"
    res = cli("train", SPEC, "--epochs", EPOCHS, "--out", out, "--quiet",
              "--set", "dataset.synthetic.n_samples=600", "--set", "training.batch_size=64",
              "--set", "logging.tensorboard=true")
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def report_dir(run_dir):
    res = cli("report", run_dir)
    assert res.returncode == 0, res.stderr
    assert "index.html" in res.stdout
    return run_dir / "report"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk; AssertionError when not a PNG."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name}: not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13, f"{path.name}: no IHDR chunk"
    return struct.unpack(">II", data[16:24])


def test_report_writes_valid_pngs_referenced_by_the_page(report_dir):
    pngs = {p.name for p in report_dir.glob("*.png")}
    assert LEARNABLE_FIGURES <= pngs
    html = (report_dir / "index.html").read_text()
    for name in sorted(pngs):
        path = report_dir / name
        width, height = png_size(path)
        assert width > 200 and height > 200, (name, width, height)
        assert path.stat().st_size > 5_000, name
        assert f'src="{name}"' in html, f"{name} not referenced by index.html"
    # the pixels decode (not only a valid header)
    import matplotlib.image as mpimg

    image = mpimg.imread(report_dir / "assignment.png")
    assert image.shape[0] > 200 and image.shape[1] > 200
    assert image[..., :3].std() > 0.05          # not a blank canvas


def test_page_shows_summary_and_categories(report_dir, run_dir):
    html = (report_dir / "index.html").read_text()
    summary = json.loads((report_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_done"] == EPOCHS
    assert summary["assignment"] == "learnable"
    cats = json.loads((run_dir / "categories.json").read_text())["categories"]
    for cat in cats:
        assert cat["name"] in html
    assert len(summary["categories"]) == len(cats)
    assert all(c["recon_mse"] is not None and c["recon_mse"] >= 0 for c in summary["categories"]
               if c["features"])
    assert "LearnableVQVAETrainer" in html and "Final metrics" in html


def test_json_format_prints_the_summary(run_dir):
    res = cli("report", run_dir, "--format", "json", "--no-data")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    records = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert summary["epochs_done"] == EPOCHS == len(records)
    assert summary["last_epoch"]["val_loss"] == pytest.approx(records[-1]["val_loss"])
    assert summary["last_epoch"]["temperature"] == pytest.approx(records[-1]["temperature"])
    history = json.loads((run_dir / "training_history.json").read_text())
    assert summary["final_metrics"]["quality"] == pytest.approx(history["final_metrics"]["quality"])


def test_tensorboard_event_file_holds_the_epoch_scalars(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = run_dir / "tensorboard"
    assert list(tb.glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(tb), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    records = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    tags = set(acc.Tags()["scalars"])
    for tag in ("loss/train", "loss/val", "components/recon", "assign/assign_balance",
                "assignment/temperature", "metrics/utilization", "metrics/category_0/level_0/perplexity"):
        assert tag in tags, tag
    val = acc.Scalars("loss/val")
    assert [e.step for e in val] == [r["epoch"] for r in records]
    assert [e.value for e in val] == pytest.approx([r["val_loss"] for r in records], rel=1e-5)
    temps = acc.Scalars("assignment/temperature")
    assert [e.value for e in temps] == pytest.approx([r["temperature"] for r in records], rel=1e-5)
    assert [e.step for e in acc.Images("assignment/matrix")] == [r["epoch"] for r in records]


def test_report_of_a_run_still_training(run_dir, tmp_path):
    """Only config.yaml and the first epochs' metrics: a partial report, no crash."""
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(run_dir / "config.yaml", partial)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    # two complete epochs and a third line being written (no newline, cut short)
    (partial / "metrics.jsonl").write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][:40])
    res = cli("report", partial)
    assert res.returncode == 0, res.stderr
    assert "still training" in res.stderr
    report = partial / "report"
    html = (report / "index.html").read_text()
    for name in ("loss.png", "codebook_curves.png", "learnable.png", "codebook_grid.png"):
        png_size(report / name)
        assert f'src="{name}"' in html
    assert not (report / "assignment.png").exists()       # no weights, no categories.json yet
    summary = json.loads((report / "summary.json").read_text())
    assert summary["status"] == "training or interrupted" and summary["epochs_done"] == 2


def test_report_on_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    res = cli("report", tmp_path)
    assert res.returncode == 2
    assert "not a spinlock-spec run folder" in res.stderr
    assert "Traceback" not in res.stderr


def _chromium_image_probe(page: Path) -> list[list]:
    """Load ``page`` in headless Chromium; [src, complete, naturalWidth, naturalHeight] per <img>."""
    probe = ('<pre id="probe">pending</pre><script>window.addEventListener("load", function () {'
             'var out = []; document.querySelectorAll("img").forEach(function (img) {'
             'out.push([img.getAttribute("src"), img.complete, img.naturalWidth, img.naturalHeight]); });'
             'document.getElementById("probe").textContent = "PROBE" + JSON.stringify(out) + "END"; });'
             '</script>')
    html = page.read_text()
    assert "</body>" in html
    probe_page = page.with_name("probe.html")
    # a broken image as a control: the probe must see it fail
    probe_page.write_text(html.replace("</body>", '<img src="missing.png" alt="control">' + probe + "</body>"))
    with tempfile.TemporaryDirectory() as profile:
        res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                              "--no-first-run", "--disable-background-networking",
                              "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                              "--virtual-time-budget=10000", "--dump-dom", probe_page.as_uri()],
                             capture_output=True, text=True, timeout=120)
    probe_page.unlink()
    match = re.search(r"PROBE(\[.*?\])END", res.stdout)
    assert match, f"no probe output from chromium (rc={res.returncode}): {res.stderr[-2000:]}"
    return json.loads(match.group(1))


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} not installed (apt-get install chromium)")
def test_images_load_in_headless_chromium(report_dir):
    images = {src: (complete, w, h) for src, complete, w, h in _chromium_image_probe(report_dir / "index.html")}
    assert images.pop("missing.png")[1] == 0            # the control image failed to load
    assert set(images) >= LEARNABLE_FIGURES
    for src, (complete, width, height) in images.items():
        assert complete and width > 200 and height > 200, (src, width, height)
