"""Instructions per request, counted by valgrind: a figure other processes cannot disturb.

:func:`per_request` runs a script under ``valgrind --tool=callgrind`` that sends ``n`` requests
through each named contender in turn, calling ``os.getppid()`` once before the first stretch
and after each. ``--dump-before=getppid`` writes the count so far to a new file at each marker
(and resets it), so each file after the first holds one contender's stretch alone: start-up,
imports and warm-up fall in the first. Dumps of a few instructions (the C library entry the
marker passes through on its way) are skipped. The same code counts the same to within a few
hundred instructions per request from run to run, whatever else the machine runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_SUMMARY = re.compile(rb"^summary:\s*(\d+)", re.MULTILINE)
_NOISE = 10_000  # instructions: a dump smaller than this is a marker's own, not a stretch


def per_request(script: Path, n: int, names: list[str]) -> dict[str, float] | None:
    """Instructions per request of each contender in ``names``; ``None`` without valgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                "--dump-before=getppid",
                "--dump-instr=no",
                sys.executable,
                str(script),
                str(n),
                ",".join(names),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dict layouts every run
        )
        dumps = sorted(Path(folder).glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:]))
        counts = []
        for dump in dumps:
            found = _SUMMARY.search(dump.read_bytes())
            if found is not None and int(found.group(1)) >= _NOISE:
                counts.append(int(found.group(1)))
    stretches = counts[1:]  # the first is start-up
    if len(stretches) != len(names):
        raise RuntimeError(f"expected {len(names)} counted stretches, found {len(stretches)}")
    return {name: count / n for name, count in zip(names, stretches, strict=True)}
