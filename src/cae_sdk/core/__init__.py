"""Sans-I/O protocol core: pure functions and value classes, no network, no clock, no globals."""

from .challenges import (
    Challenge,
    ClaimsChallenge,
    build_bearer_error,
    build_challenge,
    build_claims_challenge,
    find_claims_challenge,
    parse_www_authenticate,
)
from .claims import (
    CP1,
    acrs_claims,
    decode_claims,
    encode_claims,
    has_cp1,
    merge_claims,
    nbf_claims,
    parse_claims_request,
    requested_acrs,
    requested_nbf,
)
from .decisions import Decision, Outcome, Reason
from .locations import NamedLocation, parse_ip
from .remediation import Remediation, RemediationKind, remediation_for
from .subjects import SubjectKey, SubjectKind
from .tokens import TokenClaims, decode_unverified

__all__ = [
    "CP1",
    "Challenge",
    "ClaimsChallenge",
    "Decision",
    "NamedLocation",
    "Outcome",
    "Reason",
    "Remediation",
    "RemediationKind",
    "SubjectKey",
    "SubjectKind",
    "TokenClaims",
    "acrs_claims",
    "build_bearer_error",
    "build_challenge",
    "build_claims_challenge",
    "decode_claims",
    "decode_unverified",
    "encode_claims",
    "find_claims_challenge",
    "has_cp1",
    "merge_claims",
    "nbf_claims",
    "parse_claims_request",
    "parse_ip",
    "parse_www_authenticate",
    "remediation_for",
    "requested_acrs",
    "requested_nbf",
]
