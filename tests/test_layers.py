"""The layer contract (pyproject.toml [tool.importlinter], docs/architecture.md) holds, and
breaks on a wrong import."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_IDS = {"layers", "light-config-compile", "nn-no-config", "no-api-below", "runs-torch-free",
                "cli-through-api"}
WRONG_IMPORT = "\nfrom spinlock_spec import api  # a deliberate layer violation\n"


def _contract_ids() -> set[str]:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"] for c in config["contracts"]}


def test_the_contract_holds(capsys):
    from importlinter.cli import lint_imports

    assert _contract_ids() == CONTRACT_IDS
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"{len(CONTRACT_IDS)} kept, 0 broken" in out


def _lint_copy(tmp_path: Path, wrong: str | None) -> subprocess.CompletedProcess:
    """lint-imports on a copy of the package (with ``wrong``, a module path, importing the API)."""
    shutil.copytree(ROOT / "spinlock_spec", tmp_path / "spinlock_spec",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if wrong is not None:
        module = tmp_path / (wrong.replace(".", "/") + ".py")
        module.write_text(module.read_text() + WRONG_IMPORT)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                           "sys.exit(lint_imports(no_cache=True, no_logo=True))"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_report_importing_the_api_breaks_the_contract(tmp_path):
    clean = _lint_copy(tmp_path / "clean", None)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    wrong = _lint_copy(tmp_path / "wrong", "spinlock_spec.report.summary")
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "spinlock_spec.report is not allowed to import spinlock_spec.api" in wrong.stdout
    assert "spinlock_spec.report.summary -> spinlock_spec.api" in wrong.stdout
    assert "Layers: each package imports only the packages below it BROKEN" in wrong.stdout


def test_the_package_train_function_survives_importing_the_train_layer(tmp_path):
    """``spinlock_spec.train`` stays callable once the subpackage is imported (it forwards to the
    API through the package's function, not through an import of the API)."""
    code = ("import spinlock_spec as ss, spinlock_spec.train.metrics, sys\n"
            "assert 'spinlock_spec.api' not in sys.modules\n"
            "r = ss.train(sys.argv[1], epochs=1, dry_run=True, quiet=True, out=sys.argv[2])\n"
            "print(type(r).__name__, r.compiled.trainer_type)\n")
    spec = ROOT / "examples" / "static_baseline.yaml"
    done = subprocess.run([sys.executable, "-c", code, str(spec), str(tmp_path / "run")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["TrainResult", "VQVAETrainer"]
