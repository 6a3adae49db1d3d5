"""One table of error codes: every code raised is in it, every code in it is raised, and a
code the table does not know is caught."""
from __future__ import annotations

import re
from pathlib import Path

from spinlock_spec.errors_table import ERROR_CODES, errors_markdown

ROOT = Path(__file__).resolve().parent.parent
CODE = re.compile(r'"([EDZWI][0-9]{3})"')


def codes_in_source(root: Path) -> dict[str, list[str]]:
    """Code -> the places (file:line) that name it, over every module but the table."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if path.name == "errors_table.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for code in CODE.findall(line):
                found.setdefault(code, []).append(f"{path.relative_to(root)}:{number}")
    return found


def test_every_code_raised_is_in_the_table_and_every_row_is_used():
    used = codes_in_source(ROOT / "spinlock_spec")
    unknown = {c: where for c, where in used.items() if c not in ERROR_CODES}
    assert not unknown, f"codes missing from spinlock_spec/errors_table.py: {unknown}"
    unused = sorted(set(ERROR_CODES) - set(used))
    assert not unused, f"table rows no module raises (remove them): {unused}"


def test_the_check_catches_a_code_the_table_lacks(tmp_path):
    (tmp_path / "mod.py").write_text('raise DataError("x", code="D999")\nok = "E100"\n')
    found = codes_in_source(tmp_path)
    assert found == {"D999": ["mod.py:1"], "E100": ["mod.py:2"]}
    assert "D999" not in ERROR_CODES and "E100" in ERROR_CODES


def test_one_meaning_per_code_and_docs_list_every_code():
    meanings = [e.meaning for e in ERROR_CODES.values()]
    assert len(set(meanings)) == len(meanings)
    assert all(code == e.code and e.meaning and e.hint for code, e in ERROR_CODES.items())
    text = errors_markdown()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == list(ERROR_CODES)
