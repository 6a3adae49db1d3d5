"""``spinlock-spec train SPEC --nproc N``: N training processes on this machine.

The launcher starts N copies of this module (``python -m
spinlock_spec.cli.launcher``) with the variables torchrun would set (RANK,
LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and the keyword arguments
of :func:`spinlock_spec.api.train` as JSON in ``SPINLOCK_SPEC_TRAIN_ARGS``.
Each child joins the process group (train/distributed.py) and trains its shard.
When a child fails, the launcher stops the others and exits with the first
failure's status; the failing rank printed its message, the others stay quiet
(:func:`spinlock_spec.train.distributed.silent_exit_code`).

The children die with the launcher: each asks Linux for SIGTERM when its parent
dies (``prctl(PR_SET_PDEATHSIG)``), and takes SIGTERM like Ctrl-C (the epoch's
checkpoint is finished, rank 0 prints the resume hint).  They run in their own
process group, so a Ctrl-C or SIGTERM reaches the launcher only, which forwards it
once as SIGINT.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

ARGS_ENV = "SPINLOCK_SPEC_TRAIN_ARGS"
LOG_ENV = "SPINLOCK_SPEC_TRAIN_LOG"
PARENT_ENV = "SPINLOCK_SPEC_LAUNCHER_PID"
GRACE_S = 60.0          # after a forwarded interrupt: time to finish the epoch's checkpoint


def interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def die_with_parent() -> bool:
    """In a child: SIGTERM when the launcher dies, SIGTERM taken as Ctrl-C.  False when
    the launcher is already gone."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    signal.signal(signal.SIGTERM, interrupt)
    parent = int(os.environ.get(PARENT_ENV) or 0)
    return not parent or os.getppid() == parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(nproc: int, train_kwargs: dict, *, quiet: bool = False, verbose: bool = False,
           poll_s: float = 0.1) -> int:
    """Run ``api.train(**train_kwargs)`` in ``nproc`` processes; returns the exit status.

    ``train_kwargs`` names the run folder (``out`` or ``resume``): an interrupted launch
    says how to resume it."""
    port = free_port()
    procs = []
    # like torchrun: share the cores between the processes unless the user chose
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // nproc))
    for rank in range(nproc):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(nproc),
                   LOCAL_WORLD_SIZE=str(nproc), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   OMP_NUM_THREADS=threads, **{PARENT_ENV: str(os.getpid())},
                   **{ARGS_ENV: json.dumps(train_kwargs),
                      LOG_ENV: json.dumps({"quiet": quiet, "verbose": verbose})})
        procs.append(subprocess.Popen([sys.executable, "-m", "spinlock_spec.cli.launcher"], env=env,
                                      process_group=0))
    status = 0
    previous = signal.signal(signal.SIGTERM, interrupt)
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
        _stop(procs, signal.SIGINT, GRACE_S)      # like Ctrl-C in one process: rank 0 says how to resume
    finally:
        signal.signal(signal.SIGTERM, previous)
    _stop(procs, signal.SIGTERM, 10.0)             # stop the others (only the processes started here)
    if status == 130:
        print(resume_hint(train_kwargs.get("resume") or train_kwargs.get("out")), file=sys.stderr, flush=True)
    return status


def resume_hint(folder: str | None) -> str:
    """The line a Ctrl-C'd run prints (the same words as one process's, train/trainer.py)."""
    if folder is None:
        return "Interrupted: training stopped (resume with --resume RUN)"
    from ..runs.names import CHECKPOINT_FILE

    path = os.path.join(folder, CHECKPOINT_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            epoch = json.load(fh).get("epoch")
    except (OSError, ValueError, AttributeError):
        return f"Interrupted: training stopped before a checkpoint was written in {folder}"
    return (f"Interrupted: training stopped during epoch {int(epoch) + 1}; resumable checkpoint of "
            f"epoch {epoch} saved in {path} (resume with --resume {folder})")


def _stop(procs: list, sig: int, grace_s: float) -> None:
    live = [p for p in procs if p.poll() is None]
    for p in live:
        p.send_signal(sig)
    deadline = time.monotonic() + grace_s
    for p in live:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def child_main() -> int:
    """One rank: api.train with the launcher's arguments; the exit status."""
    from spinlock_spec import api
    from spinlock_spec.errors import UserError
    from spinlock_spec.logs import configure
    from spinlock_spec.train import distributed
    from spinlock_spec.train.trainer import TrainingInterrupted

    if not die_with_parent():
        return 130
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
