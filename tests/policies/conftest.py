"""The ``cae`` runner of the CLI tests, for the vectors' ``cae whatif`` path."""

from __future__ import annotations

from ..cli.conftest import cae

__all__ = ["cae"]
