"""The secret-in-logs watch (tests/secrets_watch.py) catches what it must and nothing else."""

from __future__ import annotations

import logging
from pathlib import Path

from shared import auth, signing
from shared.secrets import mask_uri
from tests.secrets_watch import SecretsWatch


def test_a_planted_api_key_in_a_log_line_is_caught(secrets_watch: SecretsWatch) -> None:
    key = auth.new_key()  # issued through secrets.token_urlsafe: the session watch knows it
    assert key.removeprefix(auth.KEY_PREFIX) in secrets_watch.secrets
    secrets_watch.take_leaks()
    logging.getLogger("planted").warning("authenticated with %s", key)
    leaks = secrets_watch.take_leaks()  # taken: this test's teardown must not fail on it
    assert [leak.kind for leak in leaks] == ["issued secret"]
    assert key not in leaks[0].line  # the report does not print the secret again
    assert "authenticated with" in leaks[0].line


def test_webhook_secrets_inside_words_and_json_are_caught(secrets_watch: SecretsWatch) -> None:
    secret = signing.new_secret()
    watch = SecretsWatch()
    token = "Zk3_q-" + "x" * 37
    watch.add_secret(token)
    assert watch.check(f'{{"msg": "whsec_{token}"}}')
    assert watch.check(f"url=https://h/feeds/{token}.ics")
    assert watch.check(f"prefix{token}suffix")  # found inside a longer run of token chars
    assert not watch.check(f"hint {token[:10]}")  # a hint (prefix) is not the secret
    secrets_watch.take_leaks()
    logging.getLogger("planted").error("signing with %s", secret)
    assert [leak.kind for leak in secrets_watch.take_leaks()] == ["issued secret"]


def test_uris_with_passwords_are_caught_unless_masked() -> None:
    watch = SecretsWatch()
    uri = "mongodb://app:s3cret@db.internal:27017/?replicaSet=rs0"
    assert watch.check(f"connecting to {uri}")
    assert watch.check(f'{{"msg": "failed: {uri}"}}')
    assert not watch.check(f"connecting to {mask_uri(uri)}")
    assert not watch.check("mongodb://127.0.0.1:27818/?directConnection=true")
    assert not watch.check("http://127.0.0.1:8102/imports/csv user@example.com")
    assert len(watch.take_leaks()) == 2


def test_quiet_lines_and_files(tmp_path: Path) -> None:
    watch = SecretsWatch()
    token = "A" * 43
    watch.add_secret(token)
    watch.add_secret("short")  # too short to be a secret: ignored
    log = tmp_path / "kafka.log"
    log.write_text("started\nsession short\n")
    offset = log.stat().st_size
    with log.open("a") as f:
        f.write(f"leak {token}\n")
    watch.check_file(log, offset)
    leaks = watch.take_leaks()
    assert [(leak.where, leak.kind) for leak in leaks] == [(str(log), "issued secret")]
    watch.check_file(log, 0)
    assert len(watch.take_leaks()) == 1  # the lines before it are clean
