"""A readable diff between two strategy versions: one line per changed value, lists of named
things matched by name ("pillars[Recipes].share: 30 -> 25"), not by position."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

# The field naming an item of each list, so a reordered list is no change.
KEYS = {
    "platforms": "platform",
    "pillars": "name",
    "content_types": "name",
    "stages": "stage",
    "personas": "name",
    "series": "name",
    "key_dates": "name",
    "buffer": "title",
}


class Change(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    change: Literal["added", "removed", "changed"]
    before: Any = None
    after: Any = None

    def line(self) -> str:
        if self.change == "added":
            return f"{self.path}: added {self.after}"
        if self.change == "removed":
            return f"{self.path}: removed (was {self.before})"
        return f"{self.path}: {self.before} -> {self.after}"


def diff(before: dict[str, Any], after: dict[str, Any], path: str = "") -> list[Change]:
    """Changes from `before` to `after` (JSON-mode dumps of a StrategyIn)."""
    changes: list[Change] = []
    for key in sorted(before.keys() | after.keys()):
        where = f"{path}.{key}" if path else key
        changes += _compare(before.get(key), after.get(key), where, key)
    return changes


def _compare(old: Any, new: Any, where: str, key: str) -> list[Change]:
    if old == new:
        return []
    if old is None:
        return [Change(path=where, change="added", after=new)]
    if new is None:
        return [Change(path=where, change="removed", before=old)]
    if isinstance(old, dict) and isinstance(new, dict):
        return diff(old, new, where)
    if isinstance(old, list) and isinstance(new, list) and key in KEYS:
        return _compare_named(old, new, where, KEYS[key])
    return [Change(path=where, change="changed", before=old, after=new)]


def _compare_named(old: list[Any], new: list[Any], where: str, name: str) -> list[Change]:
    before = {str(item.get(name)): item for item in old if isinstance(item, dict)}
    after = {str(item.get(name)): item for item in new if isinstance(item, dict)}
    changes: list[Change] = []
    for item in sorted(before.keys() | after.keys()):
        changes += _compare(before.get(item), after.get(item), f"{where}[{item}]", item)
    return changes
