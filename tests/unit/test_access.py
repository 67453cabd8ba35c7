"""Issue 13 item 3: roles and client-restricted keys, enforced by `RequestGuard` for every
route (role x method, the three places a request names a client, expiry even from a cached
lookup, rate limits per key), on a bare ASGI app."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared import access
from shared.auth import Agency, Principal, Role
from shared.http_limits import PRINCIPAL_STATE, HttpLimits, RequestGuard

AGENCY = Agency(tenant_id="t", name="T", created_at=datetime(2026, 1, 1, tzinfo=UTC))
LIMITS = HttpLimits(max_body_bytes=1000, max_upload_bytes=1000, max_in_flight=10, rate_per_s=1.0,
                    burst=3)  # fmt: skip
SOON = datetime.now(UTC) + timedelta(days=1)
KEYS = {
    "sok_admin": Principal(AGENCY, "key-admin", Role.ADMIN),
    "sok_admin2": Principal(AGENCY, "key-admin2", Role.ADMIN),
    "sok_editor": Principal(AGENCY, "key-editor", Role.EDITOR),
    "sok_analyst": Principal(AGENCY, "key-analyst", Role.ANALYST),
    "sok_ana_a": Principal(AGENCY, "key-ana-a", Role.ANALYST, frozenset({"A"})),
    "sok_ed_a": Principal(AGENCY, "key-ed-a", Role.EDITOR, frozenset({"A"})),
    "sok_admin_a": Principal(AGENCY, "key-adm-a", Role.ADMIN, frozenset({"A"})),
    "sok_expired": Principal(AGENCY, "key-old", Role.ADMIN, None, datetime(2026, 1, 1, tzinfo=UTC)),
    "sok_later": Principal(AGENCY, "key-later", Role.ADMIN, None, SOON),
}


async def app(scope: Any, receive: Any, send: Any) -> None:
    """Echoes the body it received and the key id the guard left in the state."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    principal = scope["state"][PRINCIPAL_STATE]
    out = json.dumps({"key_id": principal.key_id, "body": body.decode(errors="replace")}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": out})


def client() -> httpx.AsyncClient:
    async def authenticate(key: str) -> Principal | None:
        return KEYS.get(key)

    guard = RequestGuard(app, authenticate=authenticate, limits=LIMITS)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://svc")


def key(name: str) -> dict[str, str]:
    return {"X-API-Key": name}


ALLOWED = {
    # role -> (method, path) -> allowed
    "sok_admin": {"GET": True, "POST": True, "PUT": True, "DELETE": True, "KEYS": True},
    "sok_editor": {"GET": True, "POST": True, "PUT": True, "DELETE": True, "KEYS": False},
    "sok_analyst": {"GET": True, "POST": False, "PUT": False, "DELETE": False, "KEYS": False},
}


@pytest.mark.parametrize("name", sorted(ALLOWED))
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "KEYS"])
async def test_role_by_method(name: str, method: str) -> None:
    """analyst: GET/HEAD only; editor: all but /keys; admin: everything. A refusal is a 403
    naming the role."""
    allowed = ALLOWED[name].get(method, ALLOWED[name]["POST"] if method == "PATCH" else True)
    verb, path = ("POST", "/keys") if method == "KEYS" else (method, "/clients/A/posts")
    async with client() as http:
        r = await http.request(verb, path, headers=key(name))
    if allowed:
        assert r.status_code == 200
    else:
        assert r.status_code == 403
        role = KEYS[name].role.value
        assert role in r.json()["detail"]


async def test_analyst_may_read_keys_route_never() -> None:
    """Key management is admin only, reads included."""
    async with client() as http:
        for name in ("sok_analyst", "sok_editor"):
            r = await http.get("/keys", headers=key(name))
            assert r.status_code == 403 and "admin" in r.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "status"),
    [
        ("GET", "/clients/A/calendar", {}, None, 200),  # path names its client
        ("GET", "/clients/B/calendar", {}, None, 403),  # path names another client
        ("GET", "/kpis", {"client_id": "A"}, None, 200),  # query names its client
        ("GET", "/kpis", {"client_id": "B"}, None, 403),
        ("GET", "/kpis", {}, None, 403),  # names no client: restricted
        ("GET", "/clients", {}, None, 403),  # the agency-wide list
        ("GET", "/clients/A/x", {"client_id": "B"}, None, 403),  # every name must be its own
        ("POST", "/budgets", {}, {"client_id": "A", "name": "x"}, 200),  # body names its client
        ("POST", "/budgets", {}, {"client_id": "B", "name": "x"}, 403),
        ("POST", "/budgets", {}, {"name": "x"}, 403),
        ("POST", "/budgets", {}, [{"client_id": "A"}], 403),  # not a top-level client_id
        ("POST", "/clients/A/posts", {}, {"client_id": "B"}, 403),
    ],
)
async def test_restricted_key_by_where_the_client_is_named(
    method: str, path: str, params: dict[str, str], body: Any, status: int
) -> None:
    """A key restricted to client A: each request must name A and only A (path segment after
    /clients/, client_id query parameter, top-level client_id in a JSON body)."""
    async with client() as http:
        r = await http.request(method, path, params=params, json=body, headers=key("sok_ed_a"))
    assert r.status_code == status, r.text
    if status == 403:
        detail = r.json()["detail"]
        assert "restricted" in detail
        if "B" in json.dumps([path, params, body]):
            assert "'B'" in detail
    else:
        # the body the guard read to find the client reaches the app unchanged
        seen = r.json()
        assert seen["key_id"] == "key-ed-a"
        assert (json.loads(seen["body"]) if body else seen["body"]) == (body or "")


async def test_restricted_key_body_is_capped_and_non_json_names_no_client() -> None:
    async with client() as http:
        big = {"client_id": "A", "pad": "x" * 2000}
        r = await http.post("/budgets", content=json.dumps(big).encode(), headers=key("sok_ed_a"))
        assert r.status_code == 413
        r = await http.post("/clients/A/imports", content=b"\xff\xfe", headers=key("sok_ed_a"))
        assert r.status_code == 200 and r.json()["body"]  # replayed


async def test_restricted_admin_cannot_manage_keys() -> None:
    """Else a client's admin key could issue itself a key for every client."""
    async with client() as http:
        r = await http.post("/keys", json={"client_id": "A"}, headers=key("sok_admin_a"))
        assert r.status_code == 403 and "restricted" in r.json()["detail"]


async def test_expiry_is_checked_on_every_request() -> None:
    """The lookup (cached or not) returns the expiry; the guard refuses past it with a 401
    saying so."""
    async with client() as http:
        r = await http.get("/clients", headers=key("sok_expired"))
        assert r.status_code == 401 and "expired" in r.json()["detail"]
        assert (await http.get("/clients", headers=key("sok_later"))).status_code == 200
    assert KEYS["sok_later"].expired(SOON + timedelta(seconds=1))
    assert not KEYS["sok_later"].expired(SOON - timedelta(seconds=1))


async def test_rate_limit_is_per_key() -> None:
    """Two keys of one agency have a bucket each; the 429 says per key."""
    async with client() as http:
        codes = [(await http.get("/x", headers=key("sok_admin"))).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = await http.get("/x", headers=key("sok_admin"))
        assert "per key" in r.json()["detail"] and int(r.headers["Retry-After"]) >= 1
        assert (await http.get("/x", headers=key("sok_admin2"))).status_code == 200


def test_client_extraction() -> None:
    assert access.clients_in_path("/clients/cl-1/posts/p") == ["cl-1"]
    assert access.clients_in_path("/clients") == [] and access.clients_in_path("/clients/") == []
    assert access.clients_in_query(b"x=1&client_id=a&client_id=b") == ["a", "b"]
    assert access.client_in_body(b'{"client_id": "a"}') == ["a"]
    assert access.client_in_body(b'{"client_id": 5}') == ["5"]
    assert access.client_in_body(b"[1]") == [] and access.client_in_body(b"{") == []
