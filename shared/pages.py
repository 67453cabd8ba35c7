"""Pagination of list routes: `?limit=` (default 100, at most 500) and an opaque `?cursor=`
from the previous page's `X-Next-Cursor` header (also in a `Link: <...>; rel="next"`). The body
stays a plain list; no header means the last page. Cursors are keyset positions (the sort key
of the last item sent), so a page costs one indexed range read however deep it is.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request, Response, status

DEFAULT_PAGE = 100
MAX_PAGE = 500
MAX_CURSOR_LENGTH = 1024
NEXT_CURSOR = "X-Next-Cursor"

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page size (at most {MAX_PAGE}).")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_LENGTH,
        description=f"Where the page starts: the previous page's `{NEXT_CURSOR}` header.",
    ),
]


def encode_cursor(*position: str) -> str:
    """An opaque cursor for a keyset position (the sort values of the last item sent)."""
    raw = json.dumps(list(position), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> list[str] | None:
    """The position in a cursor made by `encode_cursor` with `size` values; 422 otherwise."""
    if cursor is None:
        return None
    try:
        values: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        values = None
    if not (
        isinstance(values, list) and len(values) == size and all(isinstance(v, str) for v in values)
    ):
        raise bad_cursor()
    return values


def bad_cursor() -> HTTPException:
    """The 422 for a cursor this list did not make."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": ["query", "cursor"], "type": "value_error",
                 "msg": f"not a cursor of this list: pass the {NEXT_CURSOR} header as given"}],
    )  # fmt: skip


def link_next(request: Request, response: Response, cursor: str | None) -> None:
    """Tell the client where the next page starts (nothing on the last page)."""
    if cursor is None:
        return
    url = request.url.include_query_params(cursor=cursor)
    response.headers[NEXT_CURSOR] = cursor
    response.headers["Link"] = f'<{url}>; rel="next"'


def after(field: str, value: Any, last_id: str) -> dict[str, Any]:
    """A MongoDB filter for the documents after (`value`, `last_id`) in (field, _id) order."""
    return {"$or": [{field: {"$gt": value}}, {field: value, "_id": {"$gt": last_id}}]}
