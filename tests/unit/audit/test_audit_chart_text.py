"""Found by the fuzz harness (issue 13): an account name with a control character reached
vl-convert, which aborted the whole audit process (a Rust panic that cannot unwind) while it
rendered `GET /clients/{id}/audit/report`. Chart text now drops what XML cannot carry."""

from __future__ import annotations

from services.audit.report.charts import _bars, _render, _xml_safe


def test_chart_text_with_control_characters_renders() -> None:
    rows = [
        {"account": "a\x0eb\x00c\ufffe", "who": "own", "rate": 1.5, "followers": 10.0},
        {"account": "Bäckerei 🥐\tzwei", "who": "competitor", "rate": 0.5, "followers": 3.0},
    ]
    svg = _render(_bars("title \x01", rows, "rate", "rate, %"))
    assert svg.startswith("<svg") and "abc" in svg and "Bäckerei" in svg


def test_only_characters_xml_forbids_are_dropped() -> None:
    spec = {"a\x0b": ["x\x1fy", {"k": "\ud800z"}], "n": 1.5, "ok": "tab\there 🥐"}
    assert _xml_safe(spec) == {"a": ["xy", {"k": "z"}], "n": 1.5, "ok": "tab\there 🥐"}
