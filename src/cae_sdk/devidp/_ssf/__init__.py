"""Shared Signals (SSF 1.0 / CAEP 1.0 / RISC 1.0) transmitter of the dev identity provider."""

from __future__ import annotations

from .routes import ssf_configuration, ssf_routes
from .transmitter import Transmitter, transmitter_of

__all__ = ["Transmitter", "ssf_configuration", "ssf_routes", "transmitter_of"]
