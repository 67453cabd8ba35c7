"""Found by the fuzz harness's CSV mutations (issue 13): a Fanpage Karma export that the csv
module cannot read (a carriage return inside an unquoted cell, a cell past csv's field size
limit) raised csv.Error out of the parser: a 500 from
POST /clients/{id}/audit/imports/fanpage-karma. Now each is an error naming its line."""

from __future__ import annotations

import pytest

from services.audit.importer.fanpage_karma import parse

HEADER = "Date;Network;Profile;Profile-ID;Post-ID;Type;Message;Reactions;Comments;Shares;Fans\n"
ROW = "2026-10-03 09:15;Instagram;Rival;rival;ig-1;Picture;{message};1;2;3;50\n"


@pytest.mark.parametrize("message", ["a\rb", "a\r", "\r\n\r", "a\x00b", '"a\rb', "x" * 200_000])
def test_odd_cells_give_errors_naming_a_line_never_an_exception(message: str) -> None:
    parsed = parse(HEADER + ROW.format(message=message))
    assert parsed.posts or parsed.errors
    for error in parsed.errors:
        assert isinstance(error["row"], int) and error["msg"], error


def test_a_cell_past_the_csv_field_limit_is_named_unreadable() -> None:
    [error] = parse(HEADER + ROW.format(message="x" * 200_000)).errors
    assert error["row"] == 2 and "unreadable" in error["msg"], error
