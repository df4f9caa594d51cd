from cae_sdk.core._permissions import evaluate_permissions
from cae_sdk.core.decisions import Outcome, Reason
from cae_sdk.core.tokens import TokenClaims


def test_scopes_and_roles() -> None:
    token = TokenClaims({"scp": "a b", "roles": ["R1"]})
    assert evaluate_permissions(token, scopes=["a"], roles=["R1"]).allowed
    denied = evaluate_permissions(token, scopes=["a", "c"], roles=["R2"])
    assert denied.outcome is Outcome.DENY and denied.reason is Reason.INSUFFICIENT_SCOPE
    assert denied.details == {"missing_scopes": ["c"], "missing_roles": ["R2"]}
