"""The CSV import command as a user runs it: real HTTP to the metrics service, real broker and
database behind it."""

from __future__ import annotations

import asyncio
import csv
import socket
from pathlib import Path

import uvicorn
from typer.testing import CliRunner

from services.metrics.cli import app
from tests.integration.conftest import Platform, eventually


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_import_csv_command_reports_bad_rows_and_imports_the_rest(
    platform: Platform, tmp_path: Path
) -> None:
    tenant, headers = await platform.new_agency()
    source = tmp_path / "obs.csv"
    lines = ["client_id,platform,account_id,entity_id,observed_at,likes"]
    lines += [f"cl-1,instagram,a1,p{i},2026-11-02T10:00:00Z,{i % 40}" for i in range(1, 4501)]
    lines[1001] = "cl-1,instagram,a1,p1001,2026-11-02T10:00:00Z,-3"  # data row 1001
    lines[4002] = "cl-1,orkut,a1,p4002,2026-11-02T10:00:00Z,1"  # data row 4002 (3rd chunk)
    source.write_text("\n".join(lines) + "\n")
    report = tmp_path / "errors.csv"

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(platform.apps["metrics"], port=port, lifespan="off", log_config=None)
    )
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, result=server.started))
        args = ["import-csv", str(source), "--api-key", headers["X-API-Key"],
                "--url", f"http://127.0.0.1:{port}", "--errors-out", str(report)]  # fmt: skip
        result = await asyncio.to_thread(CliRunner().invoke, app, args)
    finally:
        server.should_exit = True
        await serving

    assert result.exit_code == 0, result.output
    assert "imported 4498 observations; 2 errors" in result.output
    with report.open() as f:
        rows = {(int(r["row"]), r["field"]) for r in csv.DictReader(f)}
    assert rows == {(1001, "likes"), (4002, "platform")}

    async def all_stored() -> bool:
        return len(await platform.observations(tenant)) == 4498

    await eventually(all_stored, timeout=60)
