"""No secret in logs: record every secret the code under test makes (API keys, webhook
secrets, feed tokens: all drawn from `secrets.token_urlsafe` / `token_hex`) and check every
log record as the services format it, and the local stack's log files, for one of them or for
a URI carrying a password. Installed for the whole test session by tests/conftest.py."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.logs import JsonFormatter

MIN_SECRET_CHARS = 20  # token_urlsafe(16) is 22 characters; shorter values are not secrets
_RUN = re.compile(rf"[A-Za-z0-9_-]{{{MIN_SECRET_CHARS},}}")
# scheme://user:password@ with a password that is not the mask `***`
_URI_PASSWORD = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s\"'<>]*:(?!\*\*\*@)[^\s\"'<>@/]+@")


@dataclass(frozen=True)
class Leak:
    where: str
    kind: str
    line: str  # with the secret itself masked: the report must not leak it again


@dataclass
class SecretsWatch:
    secrets: set[str] = field(default_factory=set)
    lengths: set[int] = field(default_factory=set)
    leaks: list[Leak] = field(default_factory=list)
    lines_checked: int = 0
    where: str = "session"
    _undo: list[Callable[[], None]] = field(default_factory=list)

    def add_secret(self, value: str) -> None:
        if len(value) >= MIN_SECRET_CHARS:
            self.secrets.add(value)
            self.lengths.add(len(value))

    def found(self, line: str) -> list[tuple[str, str]]:
        """(kind, matched text) for each secret or URI password in `line`."""
        hits: list[tuple[str, str]] = []
        for run in _RUN.findall(line):
            for n in self.lengths:
                for i in range(len(run) - n + 1):
                    if run[i : i + n] in self.secrets:
                        hits.append(("issued secret", run[i : i + n]))
        hits += [("URI with a password", m.group(0)) for m in _URI_PASSWORD.finditer(line)]
        return hits

    def check(self, line: str, where: str | None = None) -> bool:
        """Record a leak for `line` if it carries a secret; True when it does."""
        self.lines_checked += 1
        hits = self.found(line)
        shown = line[:400]
        for _, text in hits:
            shown = shown.replace(text, f"{text[:6]}…[{len(text)} chars]")
        for kind, _ in hits:
            self.leaks.append(Leak(where or self.where, kind, shown))
        return bool(hits)

    def check_file(self, path: Path, offset: int = 0) -> None:
        """Check the lines of a log file from byte `offset` (what was written since)."""
        with path.open("rb") as f:
            f.seek(offset)
            for raw in f:
                self.check(raw.decode(errors="replace").rstrip("\n"), where=str(path))

    def take_leaks(self) -> list[Leak]:
        leaks, self.leaks = self.leaks, []
        return leaks

    def install(self) -> None:
        """Wrap the token makers (to learn each secret) and `Logger.handle` (to see each log
        record that is emitted, formatted as the services print it)."""
        for name in ("token_urlsafe", "token_hex"):
            self._wrap_token(name)
        formatter = JsonFormatter("watch")
        original = logging.Logger.handle

        def handle(logger: logging.Logger, record: logging.LogRecord) -> Any:
            try:
                line = formatter.format(record)
            except Exception:  # a record that cannot format is still checked as text
                line = f"{record.msg!s} {record.args!s}"
            self.check(line)
            return original(logger, record)

        logging.Logger.handle = handle  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(logging.Logger, "handle", original))

    def _wrap_token(self, name: str) -> None:
        original = getattr(secrets, name)

        def token(nbytes: int | None = None) -> str:
            value: str = original(nbytes)
            self.add_secret(value)
            return value

        setattr(secrets, name, token)
        self._undo.append(lambda: setattr(secrets, name, original))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()


def report(leaks: Iterable[Leak]) -> str:
    return "\n".join(f"  {leak.where}: {leak.kind}: {leak.line}" for leak in leaks)
