"""`socialops` command line: agencies and their API keys."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.table import Table

from shared import auth, mongo
from shared.auth import AgencyDirectory
from shared.settings import ServiceSettings

app = typer.Typer(add_completion=False, help="SocialOps administration.", no_args_is_help=True)
agency_app = typer.Typer(help="Agencies (tenants) and their API keys.", no_args_is_help=True)
app.add_typer(agency_app, name="agency")
console = Console()


def _directory() -> tuple[AgencyDirectory, object]:
    settings = ServiceSettings(service_name="cli")
    client = mongo.connect(settings.mongodb_uri, app_name="socialops-cli")
    return AgencyDirectory(client[settings.tenancy_database]), client


@agency_app.command("create")
def create(name: str = typer.Argument(..., help="Agency name")) -> None:
    """Create an agency and print its API key (shown once, stored only as a hash)."""

    async def run() -> None:
        directory, client = _directory()
        try:
            await mongo.ensure_indexes(directory.db, auth.INDEXES)
            agency, key = await directory.create_agency(name)
        finally:
            await client.close()  # type: ignore[attr-defined]
        console.print(f"agency [bold]{agency.name}[/] tenant_id={agency.tenant_id}")
        console.print("API key (shown once, keep it safe):")
        typer.echo(key)

    try:
        asyncio.run(run())
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e


@agency_app.command("list")
def list_agencies() -> None:
    """List agencies (never their keys)."""

    async def run() -> None:
        directory, client = _directory()
        try:
            agencies = await directory.list_agencies()
        finally:
            await client.close()  # type: ignore[attr-defined]
        table = Table("tenant_id", "name", "created")
        for a in agencies:
            table.add_row(a.tenant_id, a.name, a.created_at.isoformat(timespec="seconds"))
        console.print(table)

    asyncio.run(run())


if __name__ == "__main__":
    app()
