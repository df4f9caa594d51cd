"""A small Microsoft Graph stub (Starlette): users / servicePrincipals delta with paging,
removed objects, throttling and expiring delta tokens; risky principals; named locations."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class GraphStub:
    def __init__(self, page_size: int = 2) -> None:
        self.base_url = ""
        self.page_size = page_size
        self.version = 0
        self.objects: dict[str, dict[str, dict[str, Any]]] = {"users": {}, "servicePrincipals": {}}
        self.changed: dict[str, dict[str, int]] = {"users": {}, "servicePrincipals": {}}
        self.removed: dict[str, dict[str, int]] = {"users": {}, "servicePrincipals": {}}
        self.risky: dict[str, list[dict[str, Any]]] = {
            "riskyUsers": [],
            "riskyServicePrincipals": [],
        }
        self.locations: list[dict[str, Any]] = []
        self.policies: list[dict[str, Any]] = [{"id": "p1", "displayName": "CA001-Global-Block"}]
        self.throttle_next = 0
        self.expired_tokens: set[int] = set()
        self.requests: list[str] = []
        self.token = "graph-token"
        self.app = Starlette(
            routes=[
                Route("/v1.0/{collection}/delta", self._delta),
                Route("/v1.0/identityProtection/{collection}", self._risky),
                Route("/v1.0/identity/conditionalAccess/namedLocations", self._locations),
                Route("/v1.0/identity/conditionalAccess/policies", self._policies),
            ]
        )

    # -- directory changes --------------------------------------------------------------------
    def put(self, collection: str, obj: dict[str, Any]) -> None:
        self.version += 1
        self.objects[collection].setdefault(obj["id"], {}).update(obj)
        self.changed[collection][obj["id"]] = self.version

    def remove(self, collection: str, object_id: str) -> None:
        self.version += 1
        self.objects[collection].pop(object_id, None)
        self.removed[collection][object_id] = self.version

    # -- handlers -----------------------------------------------------------------------------
    def _guard(self, request: Request) -> Response | None:
        self.requests.append(str(request.url))
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"error": {"code": "InvalidAuthenticationToken"}}, status_code=401)
        if self.throttle_next:
            self.throttle_next -= 1
            return JSONResponse(
                {"error": {"code": "TooManyRequests"}},
                status_code=429,
                headers={"Retry-After": "0"},
            )
        return None

    async def _delta(self, request: Request) -> Response:
        if (denied := self._guard(request)) is not None:
            return denied
        collection = request.path_params["collection"]
        select = request.query_params.get("$select", "")
        since = int(request.query_params.get("$deltatoken", "0"))
        if since in self.expired_tokens:
            return JSONResponse({"error": {"code": "syncStateNotFound"}}, status_code=410)
        skip = int(request.query_params.get("$skiptoken", "0"))
        entries: list[dict[str, Any]] = []
        for oid, version in sorted(self.changed[collection].items(), key=lambda kv: kv[1]):
            if version > since and oid in self.objects[collection]:
                obj = self.objects[collection][oid]
                fields = set(select.split(",")) if select else set(obj)
                entries.append({k: v for k, v in obj.items() if k in fields or k == "id"})
        for oid, version in self.removed[collection].items():
            if version > since and since > 0:
                entries.append({"id": oid, "@removed": {"reason": "deleted"}})
        page = entries[skip : skip + self.page_size]
        base = f"{self.base_url}/v1.0/{collection}/delta"
        body: dict[str, Any] = {"value": page}
        if skip + self.page_size < len(entries):
            body["@odata.nextLink"] = (
                f"{base}?$select={select}&$deltatoken={since}&$skiptoken={skip + self.page_size}"
            )
        else:
            body["@odata.deltaLink"] = f"{base}?$select={select}&$deltatoken={self.version}"
        return JSONResponse(body)

    async def _risky(self, request: Request) -> Response:
        if (denied := self._guard(request)) is not None:
            return denied
        return JSONResponse({"value": self.risky[request.path_params["collection"]]})

    async def _locations(self, request: Request) -> Response:
        if (denied := self._guard(request)) is not None:
            return denied
        return JSONResponse({"value": self.locations})

    async def _policies(self, request: Request) -> Response:
        if (denied := self._guard(request)) is not None:
            return denied
        return JSONResponse({"value": self.policies})
