"""Structured logs: one JSON object per line, correlation id included, no secrets."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from shared.logs import JsonFormatter, correlation_id

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("budget"))
    logger = logging.getLogger("socialops.test_logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    token = correlation_id.set(None)
    try:
        yield logger, out
    finally:
        correlation_id.reset(token)
        logger.handlers[:] = []


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_each_record_is_one_json_line_with_the_basics(log) -> None:  # type: ignore[no-untyped-def]
    logger, out = log

    logger.info("booked %s lines", 3)
    logger.warning("second")

    first, second = lines(out)
    assert first["msg"] == "booked 3 lines"
    assert (first["level"], first["service"], first["logger"]) == (
        "INFO",
        "budget",
        "socialops.test_logs",
    )
    assert datetime.fromisoformat(first["ts"]).utcoffset() is not None
    assert second["level"] == "WARNING"


def test_multi_line_messages_and_tracebacks_stay_on_one_line(log) -> None:  # type: ignore[no-untyped-def]
    logger, out = log
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logger.exception("failed\nbadly")

    assert len(out.getvalue().splitlines()) == 1
    [line] = lines(out)
    assert line["msg"] == "failed\nbadly"
    assert "ZeroDivisionError" in line["exc"]


def test_correlation_id_of_the_current_message_is_included(log) -> None:  # type: ignore[no-untyped-def]
    logger, out = log

    logger.info("without")
    token = correlation_id.set("corr-42")
    try:
        logger.info("with")
    finally:
        correlation_id.reset(token)

    without, with_ = lines(out)
    assert "correlation_id" not in without
    assert with_["correlation_id"] == "corr-42"


def test_fields_are_added_and_non_json_values_rendered_as_text(log) -> None:  # type: ignore[no-untyped-def]
    logger, out = log
    at = datetime(2026, 1, 1, tzinfo=UTC)

    logger.info("x", extra={"fields": {"kind": "transient", "amount": Decimal("1.10"), "at": at}})

    [line] = lines(out)
    assert (line["kind"], line["amount"], line["at"]) == ("transient", "1.10", str(at))


@pytest.mark.parametrize(
    "name", ["api_key", "API_KEY", "apikey", "password", "db_password", "client_secret", "token",
             "refresh_token"],
)  # fmt: skip
def test_secret_looking_fields_are_dropped(log, name: str) -> None:  # type: ignore[no-untyped-def]
    logger, out = log

    logger.info("auth", extra={"fields": {name: "sok_hunter2", "tenant": "acme"}})

    assert "sok_hunter2" not in out.getvalue()
    [line] = lines(out)
    assert name not in line
    assert line["tenant"] == "acme"


@pytest.mark.parametrize("name", ["X-API-Key", "authorization"])
def test_fields_named_like_the_api_key_headers_are_dropped(log, name: str) -> None:  # type: ignore[no-untyped-def]
    logger, out = log

    logger.info("request", extra={"fields": {name: "sok_hunter2"}})

    assert "sok_hunter2" not in out.getvalue()
