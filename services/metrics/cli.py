"""`socialops-metrics import-csv`: send a CSV of observations to a running metrics service in
chunks, with a progress bar and a per-row error report (row number, field, reason)."""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared import endpoints

app = typer.Typer(add_completion=False, help="SocialOps metrics tools.", no_args_is_help=True)
console = Console()
CHUNK_ROWS = 2000
RETRIES = 5
MAX_RETRY_WAIT_S = 30.0


@app.callback()
def main() -> None:
    """SocialOps metrics tools (more commands will join import-csv)."""


def _chunks(path: Path, size: int) -> Iterator[tuple[int, str]]:
    """(first data row number, CSV text with the header) for each chunk of `size` records."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return
        rows: list[list[str]] = []
        first = 1
        for row in reader:
            rows.append(row)
            if len(rows) == size:
                yield first, _render(header, rows)
                first += len(rows)
                rows = []
        if rows:
            yield first, _render(header, rows)


def _render(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _post_chunk(http: httpx.Client, text: str) -> httpx.Response:
    """POST one chunk; when the service is busy (429 rate limit, 503 too many requests in
    flight) wait as long as its Retry-After says and try again, a few times."""
    for _ in range(RETRIES):
        r = http.post("/imports/csv", content=text, headers={"content-type": "text/csv"})
        if r.status_code not in {429, 503}:
            return r
        time.sleep(min(float(r.headers.get("Retry-After", "1")), MAX_RETRY_WAIT_S))
    return r


def _count_records(path: Path) -> int:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return max(0, sum(1 for _ in csv.reader(f)) - 1)


@app.command("import-csv")
def import_csv(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV file (wide format)"),
    url: str | None = typer.Option(
        None,
        envvar="METRICS_URL",
        help="Metrics service [default: the stack's, http://127.0.0.1:$METRICS_PORT or 8102]",
    ),
    api_key: str = typer.Option(..., envvar="SOCIALOPS_API_KEY", help="Your agency's API key"),
    errors_out: Path | None = typer.Option(None, help="Also write the error report as CSV"),
) -> None:
    """Import observations from a CSV file; valid rows are imported, bad rows are reported."""
    url = url or endpoints.service_url("metrics")
    total = _count_records(path)
    imported, errors, unlisted = 0, [], 0
    with (
        httpx.Client(base_url=url, headers={"X-API-Key": api_key}, timeout=120) as http,
        Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                 TimeElapsedColumn(), console=console) as progress,
    ):  # fmt: skip
        task = progress.add_task(f"importing {path.name}", total=total)
        for first, text in _chunks(path, CHUNK_ROWS):
            try:
                r = _post_chunk(http, text)
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                progress.stop()
                typer.echo(
                    f"socialops-metrics: cannot reach the metrics service at {url} "
                    f"({type(e).__name__}); start the stack (make up) or set METRICS_URL / "
                    "METRICS_PORT",
                    err=True,
                )
                raise typer.Exit(1) from None
            if r.status_code >= 400:
                console.print(f"[red]the service refused the file:[/] {r.status_code} {r.text}")
                raise typer.Exit(2)
            body = r.json()
            imported += body["imported"]
            for e in body["errors"]:
                row = e["row"] + first - 1 if e["row"] > 0 else 0
                errors.append({**e, "row": row})
            unlisted += body.get("rejected", len(body["errors"])) - len(body["errors"])
            progress.advance(task, text.count("\n") - 1 if total else 0)
    console.print(
        f"imported [bold]{imported}[/] observations; [bold]{len(errors) + unlisted}[/] errors"
        + (f" ({unlisted} not listed by the service)" if unlisted else "")
    )
    if errors:
        table = Table("row", "field", "reason", title="rows not imported")
        for e in errors[:50]:
            table.add_row(str(e["row"]), e["field"], e["reason"])
        console.print(table)
        if len(errors) > 50:
            console.print(f"... and {len(errors) - 50} more")
        if errors_out:
            with errors_out.open("w", newline="") as f:
                writer = csv.DictWriter(
                    f, fieldnames=["row", "field", "reason"], extrasaction="ignore"
                )
                writer.writeheader()
                writer.writerows(errors)
            console.print(f"error report written to {errors_out}")
    raise typer.Exit(1 if errors and not imported else 0)


if __name__ == "__main__":
    app(prog_name=os.environ.get("SOCIALOPS_PROG", "socialops-metrics"))
