"""OpenID Shared Signals receiver: SET rules, signature checks, mapping, push, poll, streams."""

from .mapping import (
    EVENT_MAPPING,
    DirectorySubjectResolver,
    Effect,
    EventRule,
    MappedEvent,
    SubjectResolver,
    map_security_event,
)
from .push import PushReceiverApp
from .receiver import ReceiveResult, SetReceiver, VerificationStates
from .rules import (
    ALLOWED_ALGORITHMS,
    SecurityEvent,
    SetValidationConfig,
    validate_set_claims,
    validate_set_header,
)
from .set_decoder import SetDecoder, TransmitterKey, TransmitterKeys, parse_jwks, verify_set

__all__ = [
    "ALLOWED_ALGORITHMS",
    "EVENT_MAPPING",
    "DirectorySubjectResolver",
    "Effect",
    "EventRule",
    "MappedEvent",
    "PushReceiverApp",
    "ReceiveResult",
    "SecurityEvent",
    "SetDecoder",
    "SetReceiver",
    "SetValidationConfig",
    "SubjectResolver",
    "TransmitterKey",
    "TransmitterKeys",
    "VerificationStates",
    "map_security_event",
    "parse_jwks",
    "validate_set_claims",
    "validate_set_header",
    "verify_set",
]
