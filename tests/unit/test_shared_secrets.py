"""Issue 14 item 13: credentials never reach what is printed or logged."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from deploy.local import stack
from shared.secrets import mask_uri
from shared.settings import ServiceSettings


@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        ("mongodb://app:s3cret@db1:27017/?replicaSet=rs0", "mongodb://app:***@db1:27017/?replicaSet=rs0"),
        ("mongodb+srv://app:p%40ss@cluster0.example.net/db", "mongodb+srv://app:***@cluster0.example.net/db"),
        ("mongodb://app:pa@ss/word@h1,h2:27018/db", "mongodb://app:***@h1,h2:27018/db"),
        ("mongodb://app:@h1/", "mongodb://app:***@h1/"),
        ("mongodb://h1/?tlsCertificateKeyFilePassword=xyz&w=1", "mongodb://h1/?tlsCertificateKeyFilePassword=***&w=1"),
        ("mongodb://127.0.0.1:27817/?directConnection=true", "mongodb://127.0.0.1:27817/?directConnection=true"),
        ("mongodb://onlyuser@h1/", "mongodb://onlyuser@h1/"),
        ("", ""),
    ],
)  # fmt: skip
def test_mask_uri_hides_passwords_and_keeps_the_rest(uri: str, masked: str) -> None:
    """Issue 14 item 13: user:password@ becomes user:***@, nothing else changes."""
    assert mask_uri(uri) == masked


def test_mask_uri_masks_every_uri_in_a_text() -> None:
    """Issue 14 item 13: a message or JSON line quoting URIs is masked as a whole."""
    text = json.dumps({"MONGODB_URI": "mongodb://a:b1@h/", "x": "kafka://k:k2@h2 ok"})
    out = mask_uri(text)
    assert "b1" not in out and "k2" not in out
    assert json.loads(out) == {"MONGODB_URI": "mongodb://a:***@h/", "x": "kafka://k:***@h2 ok"}


def test_stack_status_and_env_print_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14 item 13: `stack status` and `stack env` print the URI masked."""
    monkeypatch.setenv("MONGODB_URI", "mongodb://ops:hunter2@db.example:27017/?replicaSet=rs0")
    monkeypatch.setenv("SOCIALOPS_HOME", os.fspath(os.getcwd() + "/.local/unused-home"))
    printed = ""
    for command in (["status"], ["env"]):
        result = CliRunner().invoke(stack.cli, command)
        assert result.exit_code == 0, result.output
        printed += result.output
    assert "hunter2" not in printed
    assert "mongodb://ops:***@db.example:27017/?replicaSet=rs0" in printed
    # the processes it starts still get the real URI
    assert stack.service_env(stack.profile("dev"))["MONGODB_URI"].startswith(
        "mongodb://ops:hunter2@"
    )


def test_settings_repr_masks_the_database_password() -> None:
    """Issue 14 item 13: settings printed or logged (repr, str) never show the password."""
    settings = ServiceSettings(mongodb_uri="mongodb://app:hunter2@db:27017/?replicaSet=rs0")
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert "mongodb://app:***@db:27017/?replicaSet=rs0" in repr(settings)
    assert settings.mongodb_uri.startswith("mongodb://app:hunter2@")  # the value is intact
