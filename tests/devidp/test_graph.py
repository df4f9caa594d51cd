"""The Graph surface: delta paging with $select, nextLink / deltaLink, @removed, risk and
policy collections, protected by tokens the provider issued."""

from __future__ import annotations

from typing import Any

import msal
import pytest
import requests

from cae_sdk.devidp import DevIdentityProvider

from .conftest import confidential_app

pytestmark = pytest.mark.e2e


def _get(http: requests.Session, url: str, token: str, **headers: str) -> dict[str, Any]:
    response = http.get(url, headers={"Authorization": f"Bearer {token}", **headers})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _round(
    http: requests.Session, url: str, token: str, page_size: int
) -> tuple[list[dict[str, Any]], str, int]:
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        body = _get(http, url, token, Prefer=f"odata.maxpagesize={page_size}")
        pages += 1
        items.extend(body["value"])
        if "@odata.deltaLink" in body:
            return items, body["@odata.deltaLink"], pages
        url = body["@odata.nextLink"]


def test_users_delta_follows_directory_changes(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    token = cae_idp.graph_access_token()
    admin = cae_idp.admin
    for n in range(3):
        admin.create_user(f"user{n}@dev.example")
    select = "accountEnabled,signInSessionsValidFromDateTime,lastPasswordChangeDateTime"
    url = f"{cae_idp.graph_base_url}/v1.0/users/delta?$select={select}"
    items, delta_link, pages = _round(http, url, token, page_size=2)
    assert pages == 2 and len(items) == 4
    assert set(items[0]) == {"id", *select.split(",")}

    oid = cae_idp.seed.user.object_id
    admin.revoke_sessions(oid)
    admin.reset_password(oid)
    doomed = admin.create_user("doomed@dev.example")["object_id"]
    items, delta_link, _ = _round(http, delta_link, token, page_size=10)
    assert [i["id"] for i in items] == [oid, doomed]
    assert items[0]["signInSessionsValidFromDateTime"].endswith("Z")
    assert items[0]["lastPasswordChangeDateTime"] is not None

    admin.disable_user(oid)
    admin.delete_user(doomed)
    items, delta_link, _ = _round(http, delta_link, token, page_size=10)
    assert items == [
        {"id": oid, **{k: items[0][k] for k in select.split(",")}},
        {"id": doomed, "@removed": {"reason": "changed"}},
    ]
    assert items[0]["accountEnabled"] is False
    assert _round(http, delta_link, token, page_size=10)[0] == []
    latest = _get(http, f"{cae_idp.graph_base_url}/v1.0/users/delta?$deltatoken=latest", token)
    assert latest["value"] == []
    admin.enable_user(oid)
    items, _, _ = _round(http, latest["@odata.deltaLink"], token, page_size=10)
    assert [i["id"] for i in items] == [oid]


def test_service_principals_delta_with_graph_token_from_msal(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    seed = cae_idp.seed
    app = confidential_app(cae_idp, http, seed.secret_app.client_id, seed.secret_app.client_secret)
    token = app.acquire_token_for_client([f"{cae_idp.graph_base_url}/.default"])["access_token"]
    url = f"{cae_idp.graph_base_url}/v1.0/servicePrincipals/delta?$select=appId,accountEnabled"
    items, delta_link, _ = _round(http, url, token, page_size=100)
    assert seed.cert_app.client_id in {i["appId"] for i in items}
    cae_idp.admin.disable_service_principal(seed.cert_app.client_id)
    cae_idp.admin.delete_service_principal(seed.federated_app.client_id)
    items, _, _ = _round(http, delta_link, token, page_size=100)
    assert items[0]["appId"] == seed.cert_app.client_id and items[0]["accountEnabled"] is False
    assert items[1]["@removed"] == {"reason": "changed"}


def test_risk_and_policy_collections(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    token = cae_idp.graph_access_token()
    base = f"{cae_idp.graph_base_url}/v1.0"
    cae_idp.admin.set_user_risk(cae_idp.seed.user.object_id, "high")
    cae_idp.admin.set_service_principal_risk(cae_idp.seed.secret_app.client_id, "medium")
    cae_idp.admin.add_named_location("office", ["192.0.2.0/24", "2001:db8::/32"])
    cae_idp.admin.add_policy("CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA", grant="mfa")
    select = "?$select=riskLevel,riskState,riskLastUpdatedDateTime"
    (risky,) = _get(http, f"{base}/identityProtection/riskyUsers{select}", token)["value"]
    assert risky["riskLevel"] == "high" and risky["riskState"] == "atRisk"
    assert set(risky) == {"id", "riskLevel", "riskState", "riskLastUpdatedDateTime"}
    (risky_sp,) = _get(http, f"{base}/identityProtection/riskyServicePrincipals", token)["value"]
    assert risky_sp["appId"] == cae_idp.seed.secret_app.client_id
    (location,) = _get(http, f"{base}/identity/conditionalAccess/namedLocations", token)["value"]
    assert [r["cidrAddress"] for r in location["ipRanges"]] == ["192.0.2.0/24", "2001:db8::/32"]
    (policy,) = _get(http, f"{base}/identity/conditionalAccess/policies", token)["value"]
    assert policy["grantControls"]["builtInControls"] == ["mfa"]


def test_graph_refuses_bad_tokens_and_bad_queries(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    url = f"{cae_idp.graph_base_url}/v1.0/users/delta"
    assert http.get(url).status_code == 401
    assert http.get(url, headers={"Authorization": "Bearer x.y.z"}).status_code == 401
    api_token = msal.ConfidentialClientApplication(
        cae_idp.seed.secret_app.client_id,
        client_credential=cae_idp.seed.secret_app.client_secret,
        authority=cae_idp.authority,
        instance_discovery=False,
        http_client=http,
    ).acquire_token_for_client([cae_idp.seed.api.default_scope])["access_token"]
    assert http.get(url, headers={"Authorization": f"Bearer {api_token}"}).status_code == 401
    token = cae_idp.graph_access_token()
    auth = {"Authorization": f"Bearer {token}"}
    bad_select = http.get(url + "?$select=nope", headers=auth)
    assert bad_select.status_code == 400 and bad_select.json()["error"]["code"] == "BadRequest"
    assert http.get(url + "?$deltatoken=%%%", headers=auth).status_code == 400
    future = "eyJzIjo5OTk5LCJ1IjpudWxsLCJvIjowLCJzZWwiOltdfQ"  # since=9999: another run's state
    gone = http.get(url + f"?$deltatoken={future}", headers=auth)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "syncStateNotFound"
