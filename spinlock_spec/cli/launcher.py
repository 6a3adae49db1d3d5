"""``spinlock-spec train SPEC --nproc N``: N training processes on this machine.

The launcher starts N copies of this module (``python -m
spinlock_spec.cli.launcher``) with the variables torchrun would set (RANK,
LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and the keyword arguments
of :func:`spinlock_spec.api.train` as JSON in ``SPINLOCK_SPEC_TRAIN_ARGS``.
Each child joins the process group (train/distributed.py) and trains its shard.
When a child fails, the launcher stops the others and exits with the first
failure's status; the failing rank printed its message, the others stay quiet
(:func:`spinlock_spec.train.distributed.silent_exit_code`).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

ARGS_ENV = "SPINLOCK_SPEC_TRAIN_ARGS"
LOG_ENV = "SPINLOCK_SPEC_TRAIN_LOG"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(nproc: int, train_kwargs: dict, *, quiet: bool = False, verbose: bool = False,
           poll_s: float = 0.1) -> int:
    """Run ``api.train(**train_kwargs)`` in ``nproc`` processes; returns the exit status."""
    port = free_port()
    procs = []
    # like torchrun: share the cores between the processes unless the user chose
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // nproc))
    for rank in range(nproc):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(nproc),
                   LOCAL_WORLD_SIZE=str(nproc), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   OMP_NUM_THREADS=threads,
                   **{ARGS_ENV: json.dumps(train_kwargs),
                      LOG_ENV: json.dumps({"quiet": quiet, "verbose": verbose})})
        procs.append(subprocess.Popen([sys.executable, "-m", "spinlock_spec.cli.launcher"], env=env))
    status = 0
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = [c for c in codes if c not in (None, 0)]
            if failed:
                status = failed[0]
                break
            if all(c == 0 for c in codes):
                return 0
            time.sleep(poll_s)
    except KeyboardInterrupt:
        status = 130
    for p in procs:                       # stop the others (only the processes started here)
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return status


def child_main() -> int:
    """One rank: api.train with the launcher's arguments; the exit status."""
    from spinlock_spec import api
    from spinlock_spec.errors import UserError
    from spinlock_spec.logs import configure
    from spinlock_spec.train import distributed
    from spinlock_spec.train.trainer import TrainingInterrupted

    kwargs = json.loads(os.environ[ARGS_ENV])
    log_cfg = json.loads(os.environ.get(LOG_ENV, "{}"))
    configure(quiet=bool(log_cfg.get("quiet")), verbose=bool(log_cfg.get("verbose")))
    try:
        api.train(**kwargs)
        return 0
    except TrainingInterrupted:
        return 130
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:       # noqa: BLE001 - one message per failure, no traceback
        quiet_code = distributed.silent_exit_code(exc)
        if quiet_code is not None:
            return quiet_code
        rank = os.environ.get("RANK", "0")
        if isinstance(exc, UserError):
            print(exc.format(), file=sys.stderr, flush=True)
            return int(exc.exit_code)
        if os.environ.get("SPINLOCK_SPEC_DEBUG"):
            raise
        print(f"internal error on rank {rank}: {type(exc).__name__}: {exc}\n"
              "  this is a bug in spinlock-spec; rerun with SPINLOCK_SPEC_DEBUG=1 for the traceback",
              file=sys.stderr, flush=True)
        return 3
    finally:
        distributed.teardown()


if __name__ == "__main__":
    sys.exit(child_main())
