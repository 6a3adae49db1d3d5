"""The Optuna study of a sweep: storage (a SQLite file in the sweep folder by default, or a
shared database URL), creating or joining it, and the trial bookkeeping every worker shares.

Trial states as a sweep reads them (``trial_status``):
  complete / pruned          finished, counted, never redone
  failed                     the trial's training failed (user attr ``error``): counted, not redone
  interrupted                stopped by Ctrl-C / SIGTERM or a lost worker: re-queued, not counted
  surplus                    asked beyond ``--trials`` by a racing worker: hidden, not counted
  running / waiting          in progress / queued
"""
from __future__ import annotations

import contextlib
import inspect
import json
import time
from pathlib import Path

from spinlock_spec.errors import UserError

SWEEP_FILE = "sweep.json"
DB_FILE = "study.db"
TRIALS_DIR = "trials"
BEST_FILE = "best.yaml"
HEARTBEAT_S = 10
GRACE_S = 40
PRUNE_FROM_EPOCH = 3


class SweepError(UserError):
    """A sweep cannot start, join or be read."""


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise SweepError("sweeps need Optuna, which is not installed", code="E530",
                         hint='pip install -e ".[sweep]"  (or: pip install "optuna>=3.4")') from None
    import warnings

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # heartbeats with ask/tell are what a multi-process sweep needs; optuna flags them as
    # experimental / meant for optimize(): not the user's concern
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
    return optuna


def trial_dir(sweep_dir, number: int) -> Path:
    return Path(sweep_dir) / TRIALS_DIR / f"trial-{number:04d}"


def default_storage(sweep_dir) -> str:
    return f"sqlite:///{(Path(sweep_dir).resolve() / DB_FILE).as_posix()}"


def open_storage(url: str):
    require_optuna()
    from optuna.storages import RDBStorage

    kwargs = {"heartbeat_interval": HEARTBEAT_S, "grace_period": GRACE_S}
    names = inspect.signature(RDBStorage.__init__).parameters
    kwargs["heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in names
           else "failed_trial_callback"] = requeue_trial
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    last = None
    for attempt in range(10):     # workers starting together race to create the tables
        try:
            return RDBStorage(url, engine_kwargs=engine, **kwargs)
        except (ImportError, ValueError) as exc:
            last = exc
            break
        except Exception as exc:            # sqlalchemy errors: locked, bad URL, unreachable server
            last = exc
            time.sleep(0.5 + attempt * 0.5)
    raise SweepError(f"--storage {url}: cannot open the database ({type(last).__name__}: {last})",
                     code="E601", hint="sqlite:///path/study.db, postgresql://user@host/db or "
                     "mysql://user@host/db (the database driver must be installed); is the server reachable?")


@contextlib.contextmanager
def claim_lock(url: str):
    """Held while a worker takes a trial.  SQLite does not lock the row Optuna flips from
    waiting to running, so two processes could take the same queued trial; for a SQLite
    storage they take turns through a lock file beside the database (database servers lock
    the row themselves)."""
    path = _sqlite_path(url)
    try:
        import fcntl
    except ImportError:            # not POSIX: no lock (use a database server for parallel workers)
        fcntl = None
    if path is None or fcntl is None:
        yield
        return
    with open(str(path) + ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _sqlite_path(url: str) -> Path | None:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url[len(prefix):] in ("", ":memory:"):
        return None
    return Path(url[len(prefix):])


def requeue_trial(study, frozen) -> None:
    """Queue a trial that did not finish (interrupted, or its worker lost) to run again."""
    if frozen.user_attrs.get("surplus") or frozen.user_attrs.get("error"):
        return
    study.enqueue_trial(dict(frozen.params), user_attrs={"queued": True, "retry_of": frozen.number})


def direction_of(metric: str) -> str:
    return "minimize" if metric == "val_loss" else "maximize"


def create_or_join(storage, name: str, definition: dict, grid_values: list[dict] | None, seed: int):
    """Create the study (and queue the grid), or join an existing one after checking that it
    is the same sweep.  Returns the Study."""
    optuna = require_optuna()
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(4, definition["trials"]))
    # a trial is compared with the median of the finished ones from epoch PRUNE_FROM_EPOCH on
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=PRUNE_FROM_EPOCH)
              if definition["prune"] else optuna.pruners.NopPruner())
    direction = direction_of(definition["metric"])
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction=direction,
                                    sampler=sampler, pruner=pruner)
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(storage=storage, study_name=name, sampler=sampler, pruner=pruner)
        created = False
    if created:
        for values in grid_values or []:
            study.enqueue_trial(values, user_attrs={"queued": True})
        study.set_user_attr("definition", definition)      # last: joiners wait for it
        return study
    deadline = time.monotonic() + 60
    while "definition" not in study.user_attrs:
        if time.monotonic() > deadline:
            raise SweepError(f"study {name!r} exists but holds no sweep definition", code="E602",
                             hint="use another --study name")
        time.sleep(0.5)
    theirs = study.user_attrs["definition"]
    mine = {k: v for k, v in definition.items() if k != "spec"}
    other = {k: v for k, v in theirs.items() if k != "spec"}
    if mine != other:
        changed = sorted(k for k in set(mine) | set(other) if mine.get(k) != other.get(k))
        raise SweepError(f"study {name!r} in this storage is another sweep (differs in: "
                         f"{', '.join(changed)})", code="E602",
                         hint="give the same spec, -p, --set, --epochs, --metric and --trials, "
                              "or another --study / --out")
    return study


def trial_count(storage, name: str) -> int:
    """The number of trials of study ``name`` in ``storage`` (0 when there is no such study)."""
    try:
        return storage.get_n_trials(storage.get_study_id_from_name(name))
    except KeyError:
        return 0


def trial_status(frozen) -> str:
    state = frozen.state.name
    attrs = frozen.user_attrs
    if state == "COMPLETE":
        return "complete"
    if state == "PRUNED":
        return "pruned"
    if state == "FAIL":
        if attrs.get("surplus"):
            return "surplus"
        return "failed" if attrs.get("error") else "interrupted"
    return state.lower()


COUNTED = ("complete", "pruned", "failed")


def counts(study) -> dict:
    out: dict = {}
    for t in study.get_trials(deepcopy=False):
        s = trial_status(t)
        out[s] = out.get(s, 0) + 1
    return out


def write_sweep_file(sweep_dir, data: dict) -> None:
    from spinlock_spec.atomic import atomic_write_text

    path = Path(sweep_dir) / SWEEP_FILE
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_sweep_file(sweep_dir) -> dict:
    path = Path(sweep_dir) / SWEEP_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"{sweep_dir}: not a sweep folder (no {SWEEP_FILE})", code="E603",
                         hint="give the --out folder of `spinlock-spec sweep`") from None
    except (OSError, ValueError) as exc:
        raise SweepError(f"{path}: unreadable ({exc})", code="E603") from None
    if not isinstance(data, dict) or "storage" not in data or "study" not in data:
        raise SweepError(f"{path}: not a sweep file (no storage/study)", code="E603")
    return data


def load_study(info: dict):
    optuna = require_optuna()
    storage = open_storage(info["storage"])
    try:
        return optuna.load_study(storage=storage, study_name=info["study"])
    except KeyError:
        raise SweepError(f"no study {info['study']!r} in {info['storage']}", code="E603") from None
