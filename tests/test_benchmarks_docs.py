"""benchmarks/README.md lists every entry point with its command, RESULTS.md names a command
and a commit for each figure, and the JSON files it cites exist (issue 14 item 9)."""
import importlib.util
import re
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
HELPERS = {"common.py", "vqp_adapter.py", "ts_features.py"}   # imported by the entry points, not run


def test_readme_gives_a_command_for_every_entry_point():
    readme = (BENCH / "README.md").read_text()
    scripts = sorted(p.name for p in BENCH.glob("*.py") if p.name not in HELPERS)
    assert "gpu_workload_b.py" in scripts and "compare_commits.py" in scripts
    missing = [s for s in scripts if f"python benchmarks/{s}" not in readme and f"python3 benchmarks/{s}" not in readme]
    assert missing == []
    assert not list(BENCH.glob("device_*.sh")) or [p.name for p in BENCH.glob("device_*.sh")] == ["device_setup.sh"]


def test_results_sections_name_their_command_and_commit():
    text = (BENCH / "RESULTS.md").read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    assert len(sections) >= 6
    for section in sections:
        title = section.splitlines()[0]
        assert re.search(r"benchmarks/\w+\.py", section), title
        assert re.search(r"commit (unknown|[0-9a-f]{7})|--before [0-9a-f]{7}", section, re.I), title


def test_results_cite_existing_json():
    text = (BENCH / "RESULTS.md").read_text()
    cited = set(re.findall(r"history/([\w.-]+\.(?:json|log))", text))
    assert len(cited) >= 10
    assert sorted(c for c in cited if not (BENCH / "results" / "history" / c).is_file()) == []


def test_table_columns_line_up(capsys):
    spec = importlib.util.spec_from_file_location("bench_common", BENCH / "common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    print_table = common.print_table
    print_table([{"a": 1234567.0, "b": "x"}, {"a": 0.5, "b": None}], [("a", "speed"), ("b", "name")], title="t")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "t"
    assert lines[3].split() == ["1,234,567", "x"] and lines[4].split() == ["0.5", "-"]
    assert len({line.index(line.split()[1]) for line in (lines[1], lines[3], lines[4])}) == 1   # columns aligned
