"""Issue 13 item 3 over the real stack, as an agency would use it over HTTP: an analyst key
restricted to one client reads that client's KPIs and nothing else; the admin rotates its own
key (both work during the overlap, the old one is refused after); a revoked key is refused;
listing keys never shows a secret."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from shared.auth import hash_key, new_key
from tests.integration.conftest import Platform, eventually


async def test_restricted_analyst_rotation_and_revocation(platform: Platform) -> None:
    cal, metrics = platform.http["calendar"], platform.http["metrics"]
    _, admin = await platform.new_agency("Keys")
    a = (await cal.post("/clients", json={"name": "A"}, headers=admin)).json()["client_id"]
    b = (await cal.post("/clients", json={"name": "B"}, headers=admin)).json()["client_id"]

    body = {"name": "Freelancer", "role": "analyst", "clients": [a]}
    r = await cal.post("/keys", json=body, headers=admin)
    assert r.status_code == 201, r.text
    issued = r.json()
    analyst = {"X-API-Key": issued["key"]}
    assert issued["record"]["role"] == "analyst" and issued["record"]["clients"] == [a]

    async def reads_a() -> bool:
        r = await metrics.get("/kpis", params={"client_id": a}, headers=analyst)
        return r.status_code == 200

    await eventually(reads_a)  # fmt: skip
    r = await metrics.get("/kpis", params={"client_id": b}, headers=analyst)
    assert r.status_code == 403 and f"'{b}'" in r.json()["detail"]
    r = await cal.get(f"/clients/{b}/posts", headers=analyst)
    assert r.status_code == 403
    assert (await cal.get(f"/clients/{a}/posts", headers=analyst)).status_code == 200
    r = await cal.post(f"/clients/{a}/posts", json={"platform": "instagram"}, headers=analyst)
    assert r.status_code == 403 and "analyst" in r.json()["detail"]
    for path in ("/clients", "/kpis"):  # a list naming no client
        r = await (cal if path == "/clients" else metrics).get(path, headers=analyst)
        assert r.status_code == 403 and "restricted" in r.json()["detail"]
    assert (await cal.get("/keys", headers=analyst)).status_code == 403

    # Validation names the field.
    for bad, field in [
        ({"name": "x", "role": "owner"}, "role"),
        ({"name": "x", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
        ({"name": "x", "clients": ["cl-nobody"]}, "clients"),
    ]:
        r = await cal.post("/keys", json=bad, headers=admin)
        assert r.status_code == 422 and field in r.json()["detail"][0]["loc"], (bad, r.text)
    # Another agency's client cannot be named either.
    _, other = await platform.new_agency("Other")
    theirs = (await cal.post("/clients", json={"name": "X"}, headers=other)).json()["client_id"]
    r = await cal.post("/keys", json={"name": "x", "clients": [theirs]}, headers=admin)
    assert r.status_code == 422

    # The admin rotates its own key with a short overlap.
    keys = (await cal.get("/keys", headers=admin)).json()
    mine = next(k for k in keys if k["role"] == "admin")
    r = await cal.post(f"/keys/{mine['key_id']}/rotate", params={"overlap_s": 2}, headers=admin)
    assert r.status_code == 201, r.text
    new_admin = {"X-API-Key": r.json()["key"]}
    assert r.json()["record"]["role"] == "admin" and r.json()["record"]["clients"] is None
    started = time.monotonic()
    assert (await cal.get("/clients", headers=admin)).status_code == 200
    assert (await cal.get("/clients", headers=new_admin)).status_code == 200
    await asyncio.sleep(max(0.0, 2.2 - (time.monotonic() - started)))
    r = await cal.get("/clients", headers=admin)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    assert (await cal.get("/clients", headers=new_admin)).status_code == 200

    # Revocation: refused at once by the process that revoked.
    r = await cal.delete(f"/keys/{issued['record']['key_id']}", headers=new_admin)
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    assert (await cal.get(f"/clients/{a}/posts", headers=analyst)).status_code == 401
    # The last admin key cannot revoke itself; another agency's key id is a 404.
    listed = (await cal.get("/keys", headers=new_admin)).json()
    current = next(k for k in listed if k["role"] == "admin" and k["revoked_at"] is None
                   and k["expires_at"] is None)  # fmt: skip
    r = await cal.delete(f"/keys/{current['key_id']}", headers=new_admin)
    assert r.status_code == 409
    their_keys = (await cal.get("/keys", headers=other)).json()
    r = await cal.delete(f"/keys/{their_keys[0]['key_id']}", headers=new_admin)
    missing = await cal.delete("/keys/key-0000000000000000", headers=new_admin)
    assert r.status_code == missing.status_code == 404
    assert r.json().keys() == missing.json().keys()
    assert (await cal.get("/clients", headers=other)).status_code == 200

    # Listing never shows a key nor its hash; last use is recorded.
    text = (await cal.get("/keys", headers=new_admin)).text
    for secret in (issued["key"], new_admin["X-API-Key"], admin["X-API-Key"]):
        assert secret not in text and hash_key(secret) not in text
    listed = (await cal.get("/keys", headers=new_admin)).json()
    assert {k["key_id"] for k in listed} >= {mine["key_id"], issued["record"]["key_id"]}
    used = next(k for k in listed if k["key_id"] == issued["record"]["key_id"])
    assert used["last_used_at"] is not None
    assert datetime.fromisoformat(used["last_used_at"]) > datetime.now(UTC) - timedelta(minutes=5)


async def test_a_key_from_before_roles_is_an_admin_key_with_an_id(platform: Platform) -> None:
    """Keys stored before roles (no key_id, role or clients) act as admin keys for every
    client, show a key_id when listed, and can be revoked by it."""
    cal = platform.http["calendar"]
    tenant, admin = await platform.new_agency("Legacy")
    old = new_key()
    doc = {"_id": hash_key(old), "tenant_id": tenant, "hint": old[:8]}
    await platform.directory.db["api_keys"].insert_one({**doc, "created_at": datetime.now(UTC)})
    legacy = {"X-API-Key": old}
    assert (await cal.post("/keys", json={"name": "by legacy"}, headers=legacy)).status_code == 201
    listed = (await cal.get("/keys", headers=admin)).json()
    record = next(k for k in listed if k["hint"] == old[:8])
    assert record["role"] == "admin" and record["clients"] is None
    assert record["key_id"].startswith("key-")
    r = await cal.delete(f"/keys/{record['key_id']}", headers=admin)
    assert r.status_code == 200
    assert (await cal.get("/clients", headers=legacy)).status_code == 401


async def test_keys_are_listed_a_page_at_a_time_newest_first(platform: Platform) -> None:
    cal = platform.http["calendar"]
    _, admin = await platform.new_agency("Many keys")
    for n in range(6):  # with the agency's first key: 7 keys
        r = await cal.post("/keys", json={"name": f"k{n}", "role": "editor"}, headers=admin)
        assert r.status_code == 201, r.text
    everything = (await cal.get("/keys", headers=admin)).json()
    assert len(everything) == 7
    seen: list[str] = []
    cursor, pages_read = None, 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        r = await cal.get("/keys", params=params, headers=admin)
        assert r.status_code == 200, r.text
        seen += [k["key_id"] for k in r.json()]
        pages_read += 1
        cursor = r.headers.get("X-Next-Cursor")
        if cursor is None:
            break
    # 3 + 3 + 1, each key once, in the order of the unpaged list (newest first)
    assert pages_read == 3
    assert seen == [k["key_id"] for k in everything]
    created = [datetime.fromisoformat(k["created_at"]) for k in everything]  # as instants
    assert created == sorted(created, reverse=True)
    r = await cal.get("/keys", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "cursor"]
    r = await cal.get("/keys", params={"limit": 501}, headers=admin)
    assert r.status_code == 422
