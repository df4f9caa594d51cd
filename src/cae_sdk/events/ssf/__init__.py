"""OpenID Shared Signals receiver: SET rules, signature checks, mapping, push, poll, streams."""

from ._mapping import (
    EVENT_MAPPING,
    DirectorySubjectResolver,
    Effect,
    EventRule,
    MappedEvent,
    Resolution,
    SubjectResolver,
    map_security_event,
)
from ._poll import PollClient, PollResult, build_poll_request, parse_poll_response
from ._push import PushReceiverApp
from ._receiver import ReceiveResult, SetReceiver, StreamState, VerificationStates
from ._rules import (
    ALLOWED_ALGORITHMS,
    SecurityEvent,
    SetValidationConfig,
    validate_set_claims,
    validate_set_header,
)
from ._set_decoder import SetDecoder, TransmitterKey, TransmitterKeys, parse_jwks, verify_set
from ._streams import StreamClient, StreamVerificationError, poll_delivery, push_delivery

__all__ = [
    "ALLOWED_ALGORITHMS",
    "EVENT_MAPPING",
    "DirectorySubjectResolver",
    "Effect",
    "EventRule",
    "MappedEvent",
    "PollClient",
    "PollResult",
    "PushReceiverApp",
    "ReceiveResult",
    "Resolution",
    "SecurityEvent",
    "SetDecoder",
    "SetReceiver",
    "SetValidationConfig",
    "StreamClient",
    "StreamState",
    "StreamVerificationError",
    "SubjectResolver",
    "TransmitterKey",
    "TransmitterKeys",
    "VerificationStates",
    "build_poll_request",
    "map_security_event",
    "parse_jwks",
    "parse_poll_response",
    "poll_delivery",
    "push_delivery",
    "validate_set_claims",
    "validate_set_header",
    "verify_set",
]
