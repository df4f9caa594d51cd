"""The one configuration check between the validator and the event store: revocations must
outlive every token they could refuse."""

from __future__ import annotations

from ..core.errors import ConfigurationError
from ..events._store import EventStore
from ._validator import TokenValidator

__all__ = ["check_retention"]


def check_retention(validator: TokenValidator, store: EventStore) -> None:
    """Refuse a configuration under which a revoked token could be served again.

    A revocation is a watermark the store keeps ``watermark_retention`` seconds after its time;
    a token issued before it stays refused only while it exists. Such a token lives at most
    ``max_lifetime`` after its ``iat`` and is accepted ``leeway`` past its ``exp``, so the
    retention must cover ``max_lifetime + leeway`` (``docs/deploy.md``, "Retention and token
    lifetime"). Raises :class:`ConfigurationError` naming the three settings otherwise.
    """
    retention = store.watermark_retention
    lifetime = validator.max_lifetime
    if lifetime is None:
        raise ConfigurationError(
            "TokenValidator(max_lifetime=None) accepts tokens of any lifetime, but the event "
            f"store forgets a revocation {retention} s after it: a revoked long-lived token "
            f"would be served again. Set max_lifetime <= {retention - validator.leeway} "
            "(the store's watermark_retention minus the validator's leeway)."
        )
    if retention < lifetime + validator.leeway:
        raise ConfigurationError(
            f"the event store keeps revocations {retention} s (watermark_retention), less than "
            f"the longest token the validator accepts ({lifetime:g} s max_lifetime + "
            f"{validator.leeway} s leeway): a revoked token could be served again after its "
            "watermark expired. Raise watermark_retention or lower max_lifetime."
        )
