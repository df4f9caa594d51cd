"""``benchmarks/run_all.py``: runs each ``bench_*.py`` main() in its own process, one table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

RUN_ALL = Path(__file__).parents[2] / "benchmarks" / "run_all.py"


def load():
    spec = importlib.util.spec_from_file_location("run_all", RUN_ALL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runs_a_script_and_reads_its_verdict(tmp_path):
    run_all = load()
    (tmp_path / "_helper.py").write_text("VALUE = 'from the sibling module'\n")
    script = tmp_path / "bench_demo.py"
    script.write_text(
        "from _helper import VALUE\ndef main():\n    print('measure  value', VALUE)\n    return 1\n"
    )
    code, seconds, output = run_all.run_one(script, timeout=60)
    assert code == 1 and seconds > 0
    assert "from the sibling module" in output


def test_discovery_filter_and_table():
    run_all = load()
    assert all(p.name.startswith("bench_") for p in run_all.discover([]))
    assert run_all.discover(["no-such-benchmark"]) == []
    table = run_all.render([("benchmark", "result"), ("bench_x", "goals met")]).splitlines()
    assert table[1].startswith("---------") and table[2].startswith("bench_x")
    assert dict(run_all.machine_details())["cores"].isdigit()
