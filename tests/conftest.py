"""Session-wide checks for every test layer. No secret in logs (issue 13 item 6): every secret
issued while the tests run and every log line they produce are watched (tests/secrets_watch.py);
a test whose logs carry a secret fails at teardown, and a leak outside any test (session
fixtures, the local stack's log files) fails the session."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local import stack
from tests.secrets_watch import Leak, SecretsWatch, report

WATCH = SecretsWatch()
_LOG_OFFSETS: dict[Path, int] = {}
_OUTSIDE_TESTS: list[Leak] = []  # logged between tests: session fixtures, background tasks


def _stack_logs() -> list[Path]:
    return sorted(stack.profile("test").log_dir.glob("*.log"))


def pytest_sessionstart(session: pytest.Session) -> None:
    WATCH.install()
    # Our loggers at the level they run at in production (SOCIALOPS_LOG_LEVEL=INFO), so the
    # lines an operator would see are the lines checked; libraries keep their test levels.
    for name in ("socialops", "services", "shared"):
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.INFO)
    _LOG_OFFSETS.update({path: path.stat().st_size for path in _stack_logs()})


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    WATCH.where = "session"
    for path in _stack_logs():  # what the test stack's processes wrote during this session
        offset = _LOG_OFFSETS.get(path, 0)
        WATCH.check_file(path, offset if path.stat().st_size >= offset else 0)
    WATCH.uninstall()
    leaks = _OUTSIDE_TESTS + WATCH.take_leaks()
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = f"secrets found in logs outside any test:\n{report(leaks)}"
        if reporter is not None:
            reporter.write_sep("=", "secret in logs", red=True)
            reporter.write_line(text)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def secrets_watch() -> SecretsWatch:
    """The session's watch (for tests of the watch itself)."""
    return WATCH


@pytest.fixture(autouse=True)
def _no_secret_in_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    _OUTSIDE_TESTS.extend(WATCH.take_leaks())
    WATCH.where = request.node.nodeid
    yield
    leaks = WATCH.take_leaks()
    WATCH.where = "between tests (session fixtures, background tasks)"
    if leaks:
        pytest.fail(f"secret in logs:\n{report(leaks)}", pytrace=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(
        f"secrets watch: {WATCH.lines_checked} log lines checked against "
        f"{len(WATCH.secrets)} secrets issued"
    )
