"""`socialops` command line: agencies and their API keys; replaying dead letters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, TypeVar

import typer
from aiokafka.errors import KafkaConnectionError
from pymongo.errors import ConnectionFailure
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from shared import auth, endpoints, mongo
from shared.auth import AgencyDirectory
from shared.endpoints import UnreachableError
from shared.replay import DLQ_SUFFIX, LetterFilter, ReplayReport, replay_dead_letters
from shared.secrets import mask_uri
from shared.settings import ServiceSettings

app = typer.Typer(add_completion=False, help="SocialOps administration.", no_args_is_help=True)
agency_app = typer.Typer(help="Agencies (tenants) and their API keys.", no_args_is_help=True)
app.add_typer(agency_app, name="agency")
dlq_app = typer.Typer(help="Dead letters: replay them after a fix.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
console = Console()
T = TypeVar("T")


def _settings() -> ServiceSettings:
    """The CLI's settings, with the servers found the way the stack finds them (explicit
    KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI, else the SOCIALOPS_*_PORT of the dev stack)."""
    try:
        return ServiceSettings(
            service_name="cli",
            kafka_bootstrap_servers=endpoints.kafka_bootstrap(),
            mongodb_uri=endpoints.mongodb_uri(),
        )
    except ValueError as e:
        raise _fail(str(e)) from None


def _fail(message: str) -> typer.Exit:
    """Print one line on stderr (no traceback) and return the Exit to raise."""
    typer.echo(f"socialops: {message}", err=True)
    return typer.Exit(1)


async def _directory() -> tuple[AgencyDirectory, object]:
    """The agency directory, once the database answered a ping (else `UnreachableError`)."""
    settings = _settings()
    client = mongo.connect(settings.mongodb_uri, app_name="socialops-cli")
    try:
        await client.admin.command("ping")
    except ConnectionFailure as e:
        await client.close()
        raise UnreachableError(
            "the database", mask_uri(settings.mongodb_uri), endpoints.MONGO_HINT, e
        ) from e
    return AgencyDirectory(client[settings.tenancy_database]), client


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; an unreachable server ends it with one line, exit 1."""
    try:
        return asyncio.run(coro)
    except UnreachableError as e:
        raise _fail(str(e)) from None


@agency_app.command("create")
def create(name: str = typer.Argument(..., help="Agency name")) -> None:
    """Create an agency and print its API key (shown once, stored only as a hash)."""

    async def run() -> None:
        directory, client = await _directory()
        try:
            await mongo.ensure_indexes(directory.db, auth.INDEXES)
            agency, key = await directory.create_agency(name)
        finally:
            await client.close()  # type: ignore[attr-defined]
        console.print(f"agency [bold]{agency.name}[/] tenant_id={agency.tenant_id}")
        console.print("API key (shown once, keep it safe):")
        typer.echo(key)

    try:
        _run(run())
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e


@agency_app.command("list")
def list_agencies() -> None:
    """List agencies (never their keys)."""

    async def run() -> None:
        directory, client = await _directory()
        try:
            agencies = await directory.list_agencies()
        finally:
            await client.close()  # type: ignore[attr-defined]
        table = Table("tenant_id", "name", "created")
        for a in agencies:
            table.add_row(a.tenant_id, a.name, a.created_at.isoformat(timespec="seconds"))
        console.print(table)

    _run(run())


def _instant(text: str, option: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError as e:
        raise typer.BadParameter(f"not an ISO 8601 instant: {e}", param_hint=option) from e
    if at.tzinfo is None:
        raise typer.BadParameter("must include a time zone (e.g. Z or +01:00)", param_hint=option)
    return at


@dlq_app.command("replay")
def replay(
    topic: str = typer.Argument(
        ..., help="The topic whose dead letters to replay, e.g. metrics.observations.v1"
    ),
    reason_contains: str | None = typer.Option(
        None, "--reason-contains", help="Only letters whose reason contains this text"
    ),
    kind: str | None = typer.Option(None, help="Only letters of this kind (permanent)"),
    since: str | None = typer.Option(
        None, help="Only letters that failed at or after this instant (ISO 8601, with zone)"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be replayed"),
) -> None:
    """Move the dead letters of TOPIC back to TOPIC (after the fix that lets them pass).
    Safe to repeat: consumers drop events they already processed."""
    settings = _settings()
    base = topic.removesuffix(DLQ_SUFFIX)
    dlq_topic = settings.topic_prefix + base.removeprefix(settings.topic_prefix) + DLQ_SUFFIX
    failed_since = _instant(since, "--since") if since else None
    only = LetterFilter(reason_contains=reason_contains, kind=kind, failed_since=failed_since)

    # aiokafka logs each failed bootstrap attempt; the command says it once, with the hint.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    async def run() -> ReplayReport:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"replaying {dlq_topic}", total=None)
            try:
                return await replay_dead_letters(
                    settings.kafka_bootstrap_servers,
                    dlq_topic,
                    only=only,
                    dry_run=dry_run,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            except KafkaConnectionError as e:
                raise UnreachableError(
                    "the Kafka broker", settings.kafka_bootstrap_servers, endpoints.KAFKA_HINT, e
                ) from e

    try:
        report = _run(run())
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="TOPIC") from e
    verb = "would replay" if dry_run else "replayed"
    console.print(
        f"read {report.read} dead letters of {dlq_topic}: {verb} {report.replayed}, "
        f"skipped {report.skipped} (filters)"
    )
    for source, n in sorted(report.by_topic.items()):
        console.print(f"  {n} -> {source}")


if __name__ == "__main__":
    app()
