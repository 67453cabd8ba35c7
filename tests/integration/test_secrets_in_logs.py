"""The secret-in-logs watch (tests/conftest.py) knows every kind of secret the services issue
over HTTP: API keys, webhook signing secrets, calendar feed tokens. Every test, this one
included, fails at teardown when one of them reaches a log line."""

from __future__ import annotations

import logging

from tests.integration.conftest import Platform
from tests.secrets_watch import SecretsWatch


async def test_every_issued_secret_is_watched(
    platform: Platform, secrets_watch: SecretsWatch
) -> None:
    tenant, headers = await platform.new_agency("Watched")
    key = headers["X-API-Key"]
    cal = platform.http["calendar"]
    hook = await cal.post(
        "/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["PostPublished"]},
        headers=headers,
    )
    assert hook.status_code == 201, hook.text
    made = await cal.post("/clients", json={"name": "Watched Client", "timezone": "UTC"},
                          headers=headers)  # fmt: skip
    assert made.status_code == 201, made.text
    feed = await cal.post(f"/clients/{made.json()['client_id']}/feeds", headers=headers)
    assert feed.status_code == 201, feed.text
    assert (await cal.get(feed.json()["url"])).status_code == 200

    issued = {
        "API key": key,
        "webhook secret": hook.json()["secret"],
        "feed token": feed.json()["token"],
    }
    for kind, value in issued.items():
        assert secrets_watch.found(f"x {value} y"), f"the watch does not know the {kind}"

    # The logs of these requests went through the watch, and a leak would be caught there.
    before = secrets_watch.lines_checked
    logging.getLogger("services.calendar").warning("tenant %s got %s", tenant, issued["feed token"])
    assert secrets_watch.lines_checked > before
    assert [leak.kind for leak in secrets_watch.take_leaks()] == ["issued secret"]
