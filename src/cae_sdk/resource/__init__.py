"""Make an API a Continuous Access Evaluation resource.

``CAEMiddleware`` validates bearer tokens with ``TokenValidator``, evaluates revocation
watermarks, risk, IP locations, authentication contexts and Conditional Access policies, and
answers refusals with RFC 6750 / Entra claims challenges. It is the ASGI adapter over
``RequestPath``, the one framework-free request path (headers and client address in, decision
and refusal out) that ``BlockingRequestPath`` drives from synchronous code.
"""

from ..core.location_policy import LocationMode
from ._blocking import BlockingRequestPath
from ._path import Exchange, PathResult, RequestPath
from .access import AccessEvaluator, RequestFacts
from .client_ip import ClientIPResolver, ForwardingHeaderError
from .keysets import JWKSet, KeySetSource, parse_jwks
from .middleware import AccessRecord, CAEAuthCredentials, CAEMiddleware, CAEUser, DecisionHook
from .responses import Refusal, refusal_for_decision, refusal_for_token_error
from .settings import ENTRA_AUTHORIZATION_URI, CAESettings, FailMode
from .token_cache import TokenCache
from .validator import ENTRA_AUTHORITY_HOST, TokenValidator

__all__ = [
    "ENTRA_AUTHORITY_HOST",
    "ENTRA_AUTHORIZATION_URI",
    "AccessEvaluator",
    "AccessRecord",
    "BlockingRequestPath",
    "CAEAuthCredentials",
    "CAEMiddleware",
    "CAESettings",
    "CAEUser",
    "ClientIPResolver",
    "DecisionHook",
    "Exchange",
    "FailMode",
    "ForwardingHeaderError",
    "JWKSet",
    "KeySetSource",
    "LocationMode",
    "PathResult",
    "Refusal",
    "RequestFacts",
    "RequestPath",
    "TokenCache",
    "TokenValidator",
    "parse_jwks",
    "refusal_for_decision",
    "refusal_for_token_error",
]
