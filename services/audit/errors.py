"""HTTP errors of the audit routes, shaped like FastAPI's own validation errors."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status


def unprocessable(*loc: str | int, msg: str) -> HTTPException:
    """A 422 naming the field and why."""
    detail: list[dict[str, Any]] = [{"loc": list(loc), "msg": msg, "type": "value_error"}]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)
