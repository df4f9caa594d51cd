"""Run every benchmark under benchmarks/ and print one table (filled in as benchmarks land)."""

from __future__ import annotations

import platform
import sys


def main() -> int:
    print(f"machine: {platform.machine()} {platform.processor()} python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
