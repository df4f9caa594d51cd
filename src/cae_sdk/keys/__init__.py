"""Signing keys fetched over HTTP: one async key source for bearer tokens and SETs."""

from ._source import KeySource, require_signing_keys

__all__ = ["KeySource", "require_signing_keys"]
