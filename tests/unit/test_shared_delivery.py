"""Delivery policy pieces: error classification, dead-letter reasons, backoff."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from pydantic import ValidationError
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from shared.delivery import PermanentError, RetryPolicy, describe, is_transient
from shared.events import AnalyticsObserved, Platform, PostScheduled


def validation_error(model: type, data: object) -> ValidationError:
    try:
        model.model_validate(data)  # type: ignore[attr-defined]
    except ValidationError as e:
        return e
    raise AssertionError("expected a ValidationError")


def post_payload() -> dict[str, object]:
    return PostScheduled.new(
        producer="calendar",
        tenant_id="acme",
        client_id="c1",
        post_id="p1",
        platform=Platform.X,
        scheduled_at=datetime(2026, 5, 1, tzinfo=UTC),
    ).model_dump(mode="json")


class PermanentConnectionError(PermanentError, ConnectionError):
    pass


@pytest.mark.parametrize(
    "error",
    [
        AutoReconnect("primary stepped down"),
        NetworkTimeout("slow"),
        ServerSelectionTimeoutError("no server"),
        KafkaConnectionError(),
        KafkaTimeoutError(),
        ConnectionResetError(),
        TimeoutError(),
        OperationFailure("write conflict", 112, {"errorLabels": ["TransientTransactionError"]}),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transient_errors(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        OperationFailure("bad query", 2),
        DuplicateKeyError("E11000"),
        ValueError("bad"),
        KeyError("x"),
        PermanentError("unknown tenant"),
        PermanentConnectionError("looks like a network error, but declared permanent"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_permanent_errors(error: BaseException) -> None:
    assert not is_transient(error)


def test_describe_names_each_invalid_field_and_the_problem() -> None:
    payload = post_payload()
    del payload["client_id"]
    payload["platform"] = "myspace"

    reason = describe(validation_error(PostScheduled, payload))

    assert reason.startswith("schema invalid: ")
    assert "client_id: Field required" in reason
    assert "platform: Input should be" in reason
    assert "post_id" not in reason


def test_describe_joins_nested_locations_with_dots() -> None:
    payload = {"metrics": [{"name": "views", "value": "-1"}]}

    reason = describe(validation_error(AnalyticsObserved, payload))

    assert "metrics.0.value: Input should be greater than or equal to 0" in reason


def test_describe_names_a_wrong_body_shape_as_body() -> None:
    assert "<body>: Input should be a valid dictionary" in describe(
        validation_error(PostScheduled, [1, 2])
    )


def test_describe_calls_invalid_json_undecodable() -> None:
    with pytest.raises(ValidationError) as pydantic_json:
        PostScheduled.model_validate_json(b"{not json")
    with pytest.raises(json.JSONDecodeError) as stdlib_json:
        json.loads("{not json")
    with pytest.raises(UnicodeDecodeError) as utf8:
        b"\xff".decode()

    for error in (pydantic_json.value, stdlib_json.value, utf8.value):
        assert describe(error).startswith("undecodable: ")


def test_describe_other_errors_by_type_and_message() -> None:
    assert (
        describe(PermanentError("unknown tenant ghost")) == "PermanentError: unknown tenant ghost"
    )
    assert describe(KeyError("client_id")) == "KeyError: 'client_id'"


def test_describe_is_bounded() -> None:
    assert len(describe(RuntimeError("x" * 10_000))) <= 900
    long_reason = describe(validation_error(AnalyticsObserved, {"metrics": [{}] * 200}))
    assert len(long_reason) < 1000


def test_retry_delay_doubles_from_the_base() -> None:
    policy = RetryPolicy(attempts=5, base_delay_s=0.2, max_delay_s=5.0)

    assert [policy.delay(n) for n in (1, 2, 3, 4)] == pytest.approx([0.2, 0.4, 0.8, 1.6])


def test_retry_delay_is_capped() -> None:
    policy = RetryPolicy(attempts=20, base_delay_s=0.2, max_delay_s=5.0)
    delays = [policy.delay(n) for n in range(1, 21)]

    assert max(delays) == 5.0
    assert delays == sorted(delays)
