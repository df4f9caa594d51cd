"""Guest and external users, decided from what the access token shows.

Microsoft Entra sorts guest or external users by how they authenticate (in this tenant or
elsewhere) and by their user type (Entra docs "Authentication and Conditional Access for
External ID", section "Assigning Conditional Access policies to external user types"). An
access token shows both, when the resource asked for them:

* ``idp`` (access token claims reference): "identical to the value of the Issuer claim unless
  the user account isn't in the same tenant as the issuer, such as guests"; absent means the
  issuer authenticated the user. An ``idp`` naming another tenant (or ``live.com``, a
  Microsoft account) marks an account authenticated elsewhere, i.e. an external user.
* ``acct`` (optional claims reference): 0 for a member of the tenant, 1 for a guest.

From those the account is narrowed to the types it can be; a selection of types decides only
when every type left gives the same answer. Otherwise the selection is undecided, naming the
claim that would decide it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..tokens import TokenClaims
from ._model import GUEST_OR_EXTERNAL_USER_TYPES, GuestSelection
from ._tri import Tri, Undecided, undecided

__all__ = ["MEMBER", "AccountKinds", "classify_account", "guest_selected"]

MEMBER = "member"
"""Not a guest or external user of any type: a member authenticated by this tenant."""

_EXTERNAL = frozenset(GUEST_OR_EXTERNAL_USER_TYPES) - {"internalguest"}
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Access token claims reference, ``idp``: a personal Microsoft account shows ``live.com`` or
# the Microsoft account tenant below.
_MSA_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


@dataclass(frozen=True, slots=True)
class AccountKinds:
    """The kinds of account a token can belong to, and why it is not narrower."""

    kinds: frozenset[str]
    home_tenant: str | None
    """The tenant that authenticated an external account, when the token names it."""
    missing: str | None = None
    """The claim that would narrow ``kinds`` (``acct`` or ``idp``), when more than one."""


def _tenant_in(text: str) -> str | None:
    if text.strip().lower() == "live.com":
        return _MSA_TENANT
    found = _GUID.findall(text.lower())
    return found[0] if len(found) == 1 else None


def _authenticated_elsewhere(claims: TokenClaims) -> bool | None:
    idp = claims.get("idp")
    if idp is None:
        return False
    if not isinstance(idp, str) or not idp.strip():
        return None
    issuer = claims.issuer
    if issuer is not None and idp.strip() == issuer:
        return False
    home = _tenant_in(idp)
    if home is None:
        # A non-Entra identity provider (a social or federated one): the account is external.
        return True
    return home != (claims.tenant_id or "").lower()


def _account_type(claims: TokenClaims) -> str | None:
    acct = claims.get("acct")
    if isinstance(acct, bool):
        return None
    if acct in (0, "0"):
        return "member"
    if acct in (1, "1"):
        return "guest"
    return None


def classify_account(claims: TokenClaims) -> AccountKinds:
    """What the token shows about its user: the guest or external user types (or
    :data:`MEMBER`) it can be."""
    elsewhere = _authenticated_elsewhere(claims)
    account_type = _account_type(claims)
    idp = claims.get("idp")
    home = _tenant_in(idp) if elsewhere and isinstance(idp, str) else None
    if elsewhere is None:
        every = frozenset(GUEST_OR_EXTERNAL_USER_TYPES) | {MEMBER}
        return AccountKinds(every, None, "idp")
    if not elsewhere:
        home = (claims.tenant_id or "").lower() or None
        if account_type == "member":
            return AccountKinds(frozenset({MEMBER}), home)
        if account_type == "guest":
            return AccountKinds(frozenset({"internalguest"}), home)
        return AccountKinds(frozenset({MEMBER, "internalguest"}), home, "acct")
    # Authenticated elsewhere. A user object of this tenant (which ``acct`` describes) makes
    # it a B2B collaboration user; without ``acct`` any external type remains possible.
    if account_type == "guest":
        return AccountKinds(frozenset({"b2bcollaborationguest"}), home)
    if account_type == "member":
        return AccountKinds(frozenset({"b2bcollaborationmember"}), home)
    return AccountKinds(_EXTERNAL, home, "acct")


def _one_kind(selection: GuestSelection, kind: str, account: AccountKinds, where: str) -> Tri:
    if kind not in selection.types:
        return False
    if selection.unsupported is not None:
        return undecided(f"{where}: {selection.unsupported} is not supported")
    if selection.tenants is None:
        return True
    if account.home_tenant is None:
        return undecided(f"{where}: the token does not name the user's home tenant (idp)")
    return account.home_tenant in selection.tenants


def guest_selected(selection: GuestSelection, account: AccountKinds, where: str) -> Tri:
    """Whether the token's user is one of the selected guest or external users."""
    answers = [_one_kind(selection, kind, account, where) for kind in sorted(account.kinds)]
    if all(answer is True for answer in answers):
        return True
    if all(answer is False for answer in answers):
        return False
    reasons = [r for a in answers if isinstance(a, Undecided) for r in a.reasons]
    if account.missing is not None:
        reasons.insert(0, f"{where}: the token does not show the account type ({account.missing})")
    return undecided(*reasons)
