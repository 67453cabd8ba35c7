"""Shared fixtures for the metrics unit tests: platform payload files and a poll context."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from services.metrics.adapters import ObservationContext

if TYPE_CHECKING:
    from collections.abc import Callable

PLATFORM_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "platforms"
OBSERVED_AT = datetime(2025, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
def payload() -> Callable[[str], dict[str, Any]]:
    """Load a recorded platform response from tests/fixtures/platforms/<name>.json."""

    def load(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((PLATFORM_FIXTURES / f"{name}.json").read_text())
        return data

    return load


@pytest.fixture
def context() -> ObservationContext:
    return ObservationContext(
        tenant_id="agency-1",
        client_id="acme-coffee",
        account_id="acct-1",
        observed_at=OBSERVED_AT,
        api_version="v24.0",
    )
