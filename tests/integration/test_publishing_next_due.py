"""The dispatcher's idle step asks the database only for what becomes claimable within its
pause (`PublishingRepository.next_due`): SecantusDB sorts every match of a query in memory,
so asking for the earliest of all scheduled posts cost 534 ms at 20,000 posts and held the
database on every idle step at the benchmark's 520,000."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.conftest import Platform

NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)


def post(i: int, status: str, **fields: object) -> dict[str, object]:
    return {"_id": f"po-{i}", "tenant_id": "t", "client_id": "c", "status": status, **fields}


async def test_next_due_sees_only_the_window_it_is_asked_about(platform: Platform) -> None:
    repo = platform.apps["calendar"].state.publishing
    posts = platform.db("calendar")["posts"]
    await posts.insert_many(
        [post(i, "scheduled", scheduled_at=NOW + timedelta(days=1, minutes=i)) for i in range(50)]
    )
    # nothing within a second: the dispatcher sleeps its whole idle poll
    assert await repo.next_due(now=NOW, within=timedelta(seconds=1)) is None
    # within a day and a half: the earliest of them
    got = await repo.next_due(now=NOW, within=timedelta(days=1, hours=12))
    assert got == NOW + timedelta(days=1)
    # a lease expiring sooner than any scheduled post wins; one past the window is not seen
    await posts.insert_many([
        post(100, "publishing", lease_until=NOW + timedelta(milliseconds=300)),
        post(101, "due", lease_until=NOW + timedelta(hours=3)),
    ])  # fmt: skip
    assert await repo.next_due(now=NOW, within=timedelta(seconds=1)) == NOW + timedelta(
        milliseconds=300
    )
    await posts.delete_one({"_id": "po-100"})
    assert await repo.next_due(now=NOW, within=timedelta(hours=1)) is None
