"""``--lock FILE``: the resolved spec with its content hash, written atomically.

The lock file is YAML that compiles again to the same hash; its header names the hash."""
from __future__ import annotations


from spinlock_spec.errors import UserError


def atomic_write(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically; a failure is one located UserError."""
    from spinlock_spec.atomic import atomic_write_text

    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}", code="E109", location=str(path)) from None


def lock_text(compiled) -> str:
    from spinlock_spec.config.resolve import dump_resolved

    header = (f"# spinlock-spec lock: sha256:{compiled.hash}\n"
              "# (sha256 of the canonical JSON of the resolved spec below; `spinlock-spec compile` of this\n"
              "#  file gives the same hash)\n")
    return header + dump_resolved(compiled.spec)


def write_lock(compiled, path) -> None:
    atomic_write(path, lock_text(compiled))
