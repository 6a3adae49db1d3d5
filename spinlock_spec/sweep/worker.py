"""A sweep worker: one process that asks the study for trials and trains them, one at a
time, in-process (torch is imported once per worker).  ``spinlock-spec sweep`` starts
``--jobs`` of them; ``python -m spinlock_spec.sweep.worker SWEEP_DIR`` runs one by hand.

Per-epoch validation losses are read from the trial's ``metrics.jsonl`` as the trainer
appends them and fed to the study's pruner; a trial the pruner stops is interrupted like a
Ctrl-C (its run folder keeps the checkpoint) and recorded as pruned.
"""
from __future__ import annotations

import _thread
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import zlib
from pathlib import Path

from spinlock_spec.errors import UserError
from spinlock_spec.sweep import study as st
from spinlock_spec.sweep.params import is_grid, parse_params, trial_overrides

THREADS_ENV = "SPINLOCK_SWEEP_THREADS"


POLL_S = 0.1        # an epoch of a small trial can take well under a second


class MetricFeed(threading.Thread):
    """Reads new epoch records of a run folder's metrics.jsonl, reports them to the trial,
    and interrupts the training when the pruner says so."""

    def __init__(self, path: Path, trial, maximize: bool, prune: bool):
        super().__init__(daemon=True)
        self.path, self.trial, self.maximize, self.prune = path, trial, maximize, prune
        self.offset = 0
        self.pruned = False
        self.active = True
        self.lock = threading.Lock()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(POLL_S):
            self.poll()

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except OSError:
            return
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        self.offset += end + 1
        for line in chunk[:end].splitlines():
            try:
                rec = json.loads(line)
                epoch, loss = int(rec["epoch"]), float(rec["val_loss"])
            except (ValueError, KeyError, TypeError):
                continue
            self.trial.report(-loss if self.maximize else loss, epoch)
            if self.prune and self.trial.should_prune():
                with self.lock:
                    if self.active and not self.pruned:
                        self.pruned = True
                        _thread.interrupt_main()
                return

    def stop(self) -> None:
        with self.lock:
            self.active = False
        self.done.set()


class Heartbeat(threading.Thread):
    def __init__(self, storage, trial_id: int):
        super().__init__(daemon=True)
        self.storage, self.trial_id = storage, trial_id
        self.done = threading.Event()

    def run(self) -> None:
        while True:
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:        # a dropped connection: the next beat tries again
                pass
            if self.done.wait(st.HEARTBEAT_S):
                return


PROBE_ROW = "tokens all levels"


def metric_value(metric: str, history: dict, run_dir=None, labels: str | None = None) -> float:
    """The trial's figure: from the run's history, or for ``probe`` a linear probe of
    ``labels`` from the run's tokens of its own data (``evaluate``'s, accuracy of all levels)."""
    final = history.get("final_metrics") or {}
    if metric == "val_loss":
        value = history.get("best_val_loss")
    elif metric == "quality":
        value = final.get("quality")
    else:
        value = _probe_accuracy(run_dir, labels) if labels is not None and run_dir is not None else None
    if value is None:
        raise UserError(f"the run reports no {metric} metric", code="E604")
    return float(value)


def _probe_accuracy(run_dir, labels: str) -> float | None:
    from spinlock_spec import api
    from spinlock_spec.evaluate import evaluate_run, save_evaluation

    result = evaluate_run(api.load_run(run_dir), None, labels)
    save_evaluation(run_dir, result)
    return (result.get("probe") or {}).get("rows", {}).get(PROBE_ROW, {}).get("accuracy")


class Worker:
    def __init__(self, sweep_dir, slot: int = 0):
        self.dir = Path(sweep_dir)
        info = st.read_sweep_file(self.dir)
        self.info = info
        self.definition = info["definition"]
        self.params = parse_params(self.definition["params"])
        self.grid = is_grid(self.params) and self.definition.get("grid", False)
        self.fixed = list(self.definition["fixed"])
        self.spec = info["spec"]
        self.metric = self.definition["metric"]
        self.maximize = st.direction_of(self.metric) == "maximize"
        self.storage = st.open_storage(info["storage"])
        self.slot = slot
        self.host = socket.gethostname()
        self.study = st.create_or_join(self.storage, info["study"], self.definition, None,
                                       self._sampler_seed(st.trial_count(self.storage, info["study"])))

    def _sampler_seed(self, n_trials: int) -> int:
        """Workers started together with one --seed would draw the same values: each worker's
        sampler gets its own seed from the sweep's seed, its slot, its host and the trials so far."""
        mix = f"{self.definition.get('seed', 0)}/{self.slot}/{self.host}/{n_trials}"
        return zlib.crc32(mix.encode())

    # ------------------------------------------------------------------ loop
    def next_trial(self):
        """The next trial to run, or None when the sweep has nothing left for this worker.

        With nothing to ask for but trials still running (here or on other machines), it
        waits: a trial whose worker is lost is queued again once its heartbeat is stale."""
        from optuna.storages import fail_stale_trials

        n = self.definition["trials"]
        while True:
            with st.claim_lock(self.info["storage"]):
                fail_stale_trials(self.study)
                status = [st.trial_status(t) for t in self.study.get_trials(deepcopy=False)]
                running = status.count("running")
                if "waiting" in status or (not self.grid and sum(s in st.COUNTED for s in status) + running < n):
                    return self._ask(n)
            if not running:
                return None
            time.sleep(2.0)

    def _ask(self, n: int):
        trial = self.study.ask()
        self.storage.record_heartbeat(trial._trial_id)      # lost from here on: stale, queued again
        if trial.user_attrs.get("queued"):
            return trial
        claimed = sum(st.trial_status(t) in (*st.COUNTED, "running", "waiting")
                      for t in self.study.get_trials(deepcopy=False) if t.number < trial.number)
        if self.grid or claimed >= n:      # another worker took the last slot meanwhile
            trial.set_user_attr("surplus", True)
            self.study.tell(trial, state=_state("FAIL"))
            return None
        return trial

    def suggest(self, trial) -> dict:
        values = {}
        for p in self.params:
            if p.is_range and p.integer:
                values[p.key] = trial.suggest_int(p.key, int(p.low), int(p.high), log=p.log)
            elif p.is_range:
                values[p.key] = trial.suggest_float(p.key, p.low, p.high, log=p.log)
            else:
                values[p.key] = trial.suggest_categorical(p.key, list(p.choices))
        return values

    def run(self) -> int:
        while True:
            trial = self.next_trial()
            if trial is None:
                return 0
            self.run_trial(trial)

    # ------------------------------------------------------------------ one trial
    def _same_spec(self, digest: str, number: int):
        """A finished trial with the same spec hash (waits for a running one)."""
        while True:
            running = False
            for t in self.study.get_trials(deepcopy=False):
                if t.number == number or t.user_attrs.get("spec_hash") != digest:
                    continue
                status = st.trial_status(t)
                if status in ("complete", "failed") and "reused_from" not in t.user_attrs:
                    return t
                running |= status == "running"
            if not running:
                return None
            time.sleep(1.0)

    def run_trial(self, trial) -> None:
        from spinlock_spec import api
        from spinlock_spec.logs import get_logger

        told = False
        feed = beat = handler = None
        t0 = time.perf_counter()
        shown = f"trial {trial.number}"
        try:
            values = self.suggest(trial)
            overrides = trial_overrides(self.params, values, self.fixed)
            shown = " ".join(f"{k}={v}" for k, v in values.items())
            trial.set_user_attr("host", self.host)
            try:
                digest = api.compile_spec(self.spec, overrides).hash
            except UserError as exc:
                return self._fail(trial, exc.format(), shown, t0)
            trial.set_user_attr("spec_hash", digest)
            same = self._same_spec(digest, trial.number)
            if same is not None:
                trial.set_user_attr("reused_from", same.number)
                if st.trial_status(same) == "failed":
                    told = True
                    return self._fail(trial, f"same spec as trial {same.number}: "
                                      f"{same.user_attrs.get('error')}", shown, t0)
                self.study.tell(trial, same.value)
                told = True
                self._say(trial, f"complete (same spec as trial {same.number})", shown)
                return
            run_dir = st.trial_dir(self.dir, trial.number)
            trial.set_user_attr("run_dir", str(run_dir.resolve()))
            beat = Heartbeat(self.storage, trial._trial_id)
            beat.start()
            feed = MetricFeed(run_dir / "metrics.jsonl", trial, self.maximize, self.definition["prune"])
            feed.start()
            run_dir.mkdir(parents=True, exist_ok=True)
            # the trial's log sits beside its run folder: a file inside would make train refuse
            # the folder as not empty (runs never mix with other files)
            handler = _log_to(run_dir.with_name(run_dir.name + ".log"))
            self._say(trial, "started", shown)
            try:
                result = api.train(self.spec, overrides=overrides, out=run_dir, progress=False)
            finally:
                feed.stop()
            value = metric_value(self.metric, result.history, run_dir, self.definition.get("labels"))
            trial.set_user_attr("seconds", time.perf_counter() - t0)
            self.study.tell(trial, value)
            told = True
            self._say(trial, f"complete {self.metric}={value:.4g} ({time.perf_counter() - t0:.1f} s)", shown)
        except KeyboardInterrupt:
            if feed is not None and feed.pruned:
                trial.set_user_attr("seconds", time.perf_counter() - t0)
                self.study.tell(trial, state=_state("PRUNED"))
                told = True
                self._say(trial, "pruned", shown)
                return
            if not told:
                signal.signal(signal.SIGINT, signal.SIG_IGN)     # finish the bookkeeping first
                self.study.tell(trial, state=_state("FAIL"))
                st.requeue_trial(self.study, self.study.get_trials(deepcopy=False)[trial.number])
                told = True
                self._say(trial, "interrupted (queued again)", shown)
            raise
        except UserError as exc:
            if not told:
                told = True
                self._fail(trial, exc.format(), shown, t0)
        except Exception as exc:          # a failed trial is recorded; the sweep goes on
            if not told:
                told = True
                self._fail(trial, f"{type(exc).__name__}: {exc}", shown, t0)
        finally:
            if beat is not None:
                beat.done.set()
            if handler is not None:
                get_logger().removeHandler(handler)
                handler.close()

    def _fail(self, trial, message: str, shown: str, t0: float) -> None:
        from optuna.exceptions import UpdateFinishedTrialError

        try:
            trial.set_user_attr("error", message[:2000])
            trial.set_user_attr("seconds", time.perf_counter() - t0)
            self.study.tell(trial, state=_state("FAIL"))
        except UpdateFinishedTrialError:    # finished meanwhile (e.g. failed as stale by another worker)
            pass
        self._say(trial, "failed: " + message.splitlines()[0], shown)

    def _say(self, trial, what: str, shown: str) -> None:
        print(f"[worker {self.slot}] trial {trial.number} ({shown}): {what}", flush=True)


def _state(name: str):
    from optuna.trial import TrialState

    return TrialState[name]


def _log_to(path: Path) -> logging.Handler:
    from spinlock_spec.logs import get_logger

    logger = get_logger()
    for h in list(logger.handlers):
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
            logger.removeHandler(h)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler


def _limit_threads() -> None:
    threads = os.environ.get(THREADS_ENV)
    if threads:
        import torch

        torch.set_num_threads(max(1, int(threads)))


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m spinlock_spec.sweep.worker SWEEP_DIR [SLOT]")
        return 2
    signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    try:
        worker = Worker(argv[0], int(argv[1]) if len(argv) > 1 else 0)
        _limit_threads()
        return worker.run()
    except KeyboardInterrupt:
        return 130
    except UserError as exc:
        print(exc.format(), file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
