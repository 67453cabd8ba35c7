"""What a key may do, checked in `RequestGuard` for every route of every service: its role
limits the methods (analyst: read only; editor: all but key management) and a key restricted
to some clients must name one of them in each request (pure rules, no I/O)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import parse_qsl

from shared.auth import Principal, Role

READ_METHODS = frozenset({"GET", "HEAD"})
KEY_ROUTES = "/keys"
# Routes for an agency's unrestricted admin keys only: key management and the activity log.
ADMIN_ROUTES = (KEY_ROUTES, "/activity")


def is_key_route(path: str) -> bool:
    """Key management or the activity log: admin keys for every client only."""
    return any(path == route or path.startswith(route + "/") for route in ADMIN_ROUTES)


def role_refusal(principal: Principal, method: str, path: str) -> str | None:
    """Why this key's role may not make this request (a 403 detail), or None."""
    if principal.role is Role.ANALYST and method.upper() not in READ_METHODS:
        return f"this key's role is analyst (read only): {method.upper()} is not allowed"
    what = "reading the activity log" if path.startswith("/activity") else "managing keys"
    if is_key_route(path) and principal.role is not Role.ADMIN:
        return f"{what} needs an admin key; this key's role is {principal.role.value}"
    if is_key_route(path) and principal.clients is not None:
        return f"{what} needs an admin key for every client; this key is restricted"
    return None


def clients_in_path(path: str) -> list[str]:
    """Each path segment that follows a `clients` segment (`/clients/{client_id}/...`)."""
    parts = path.split("/")
    return [parts[i + 1] for i, part in enumerate(parts[:-1]) if part == "clients" and parts[i + 1]]


def clients_in_query(query_string: bytes) -> list[str]:
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return [value for name, value in pairs if name == "client_id"]


def client_in_body(body: bytes) -> list[str]:
    """The top-level `client_id` of a JSON object body; none for any other body."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return []
    if isinstance(parsed, dict) and "client_id" in parsed:
        value = parsed["client_id"]
        return [value if isinstance(value, str) else json.dumps(value)]
    return []


def client_refusal(principal: Principal, named: Iterable[str]) -> str | None:
    """Why a key restricted to some clients may not make a request naming `named` (a 403
    detail), or None. A request naming no client is refused: an agency-wide answer would show
    a freelancer the other clients."""
    if principal.clients is None:
        return None
    named = list(named)
    if not named:
        return (
            "this key is restricted to some clients: name one of them (in the path after "
            "/clients/, as the client_id query parameter or as client_id in the body)"
        )
    for client_id in named:
        if client_id not in principal.clients:
            return f"this key is restricted to some clients, not to client '{client_id}'"
    return None
