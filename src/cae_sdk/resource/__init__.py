"""Make an API a Continuous Access Evaluation resource.

``CAEMiddleware`` validates bearer tokens with ``TokenValidator``, evaluates revocation
watermarks, risk, IP locations, authentication contexts and Conditional Access policies, and
answers refusals with RFC 6750 / Entra claims challenges. It is the ASGI adapter over
``RequestPath``, the one framework-free request path (headers and client address in, decision
and refusal out) that ``BlockingRequestPath`` drives from synchronous code.
"""

from ..core._location_policy import LocationMode
from ._access import AccessEvaluator, RequestFacts
from ._blocking import BlockingRequestPath
from ._client_ip import ClientIPResolver, ForwardingHeaderError
from ._exchange import Exchange, PathResult
from ._keysets import JWKSet, KeySetSource, parse_jwks
from ._middleware import AccessRecord, CAEAuthCredentials, CAEMiddleware, CAEUser, DecisionHook
from ._path import RequestPath
from ._responses import Refusal, refusal_for_decision, refusal_for_token_error
from ._settings import ENTRA_AUTHORIZATION_URI, CAESettings, FailMode
from ._token_cache import TokenCache
from ._validator import ENTRA_AUTHORITY_HOST, TokenValidator

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
