#!/usr/bin/env python
"""Regenerate docs/reference.md (from the JSON Schema), docs/rules.md (from the
compatibility rules) and docs/errors.md (from spinlock_spec/errors_table.py).
``--check``: exit 1 and name the stale files instead of writing."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spinlock_spec.docs_gen import REGENERATE, stale_docs, write_docs  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check that the docs are up to date")
    parser.add_argument("--docs", default=str(ROOT / "docs"), help="docs folder [default: %(default)s]")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_docs(args.docs)
        if stale:
            print(f"stale generated docs: {', '.join(stale)}; {REGENERATE}", file=sys.stderr)
            return 1
        print("generated docs are up to date")
        return 0
    for path in write_docs(args.docs):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
