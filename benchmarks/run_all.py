"""Run every benchmark under ``benchmarks/`` and print one table with the machine details.

Each ``benchmarks/bench_*.py`` has a ``main()`` that prints its own small table and returns 0,
or non-zero when a stated goal is missed. Each runs in its own Python process (so one cannot
disturb another's event loop, threads or memory figures), one after the other on an otherwise
idle machine. Usage::

    python benchmarks/run_all.py [--only SUBSTRING ...] [--timeout SECONDS]

Exit status: 0 when every benchmark met its goals, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_RUNNER = (
    "import importlib.util, os, sys\n"
    # As `python benchmarks/bench_x.py` would: the script's folder first on sys.path.
    "sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))\n"
    "spec = importlib.util.spec_from_file_location('bench', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "sys.exit(module.main() or 0)\n"
)


def machine_details() -> list[tuple[str, str]]:
    cpu = platform.processor() or platform.machine()
    memory = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) // 1024} MiB"
                break
    except OSError:
        pass
    return [
        ("cpu", cpu),
        ("cores", str(os.cpu_count())),
        ("memory", memory),
        ("python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        ("platform", platform.platform()),
        ("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
    ]


def discover(only: list[str]) -> list[Path]:
    scripts = sorted(HERE.glob("bench_*.py"))
    if only:
        scripts = [s for s in scripts if any(part in s.stem for part in only)]
    return scripts


def run_one(script: Path, timeout: float) -> tuple[int | None, float, str]:
    """Returns (exit code or None on timeout, seconds, combined output)."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _RUNNER, str(script)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=HERE.parent,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout if isinstance(exc.stdout, str) else ""
        return None, time.perf_counter() - started, output
    output = done.stdout + (f"\n{done.stderr}" if done.returncode not in (0, 1) else "")
    return done.returncode, time.perf_counter() - started, output


def render(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=[], help="run scripts whose name contains")
    parser.add_argument("--timeout", type=float, default=600.0, help="per script, seconds")
    args = parser.parse_args(argv)
    print("cae-sdk benchmarks")
    for key, value in machine_details():
        print(f"  {key:<9} {value}")
    print()
    scripts = discover(args.only)
    if not scripts:
        print("no benchmarks found (benchmarks/bench_*.py)")
        return 0
    summary: list[tuple[str, ...]] = [("benchmark", "result", "seconds")]
    all_met = True
    for script in scripts:
        print(f"== {script.stem} ==", flush=True)
        code, seconds, output = run_one(script, args.timeout)
        print(output.rstrip() or "(no output)", flush=True)
        print()
        if code == 0:
            result = "goals met"
        elif code == 1:
            result = "GOAL MISSED"
        elif code is None:
            result = f"TIMED OUT after {args.timeout:.0f} s"
        else:
            result = f"ERROR (exit {code})"
        all_met = all_met and code == 0
        summary.append((script.stem, result, f"{seconds:.1f}"))
    print(render(summary))
    return 0 if all_met else 1


if __name__ == "__main__":
    raise SystemExit(main())
