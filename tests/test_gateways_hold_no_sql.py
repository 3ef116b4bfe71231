"""Gateways ask the read model through store/queries: no module under gateways/ holds SQL."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Upper-case keywords in the shapes statements take, so that prose ("select a file") never matches.
SQL = re.compile(
    r"\bSELECT\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b"
    r"|\bFROM\s+\w+\s+(AS\s+\w+\s+)?WHERE\b|\bWHERE\s+\w+\s*(=|IN\b|LIKE\b)|\bORDER\s+BY\b"
)
# What runs a statement: a connection's execute*, or the reader's one(sql).
RUNS_SQL = {"execute", "executemany", "executescript", "one"}


def _text(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's with each replacement field as one word."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
    return None


def sql_in(path: Path) -> list[str]:
    found: dict[int, str] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        text = _text(node)
        if text is not None and SQL.search(text):
            found.setdefault(node.lineno, f"{path.name}:{node.lineno} string {text[:60]!r}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in RUNS_SQL):
            found.setdefault(node.lineno, f"{path.name}:{node.lineno} calls .{node.func.attr}()")
    return [found[line] for line in sorted(found)]


def test_no_gateway_module_holds_sql() -> None:
    found = [hit for path in sorted((ROOT / "gateways").rglob("*.py")) for hit in sql_in(path)]
    assert found == []


def test_the_check_sees_sql_in_plain_and_formatted_strings_and_calls(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        'a = "SELECT * FROM media WHERE media_id = ?"\n'
        'b = f"SELECT seq {clause} ORDER BY seq"\n'
        'c = f"FROM {table} WHERE {key} = ?"\n'
        'd = "DELETE FROM media"\n'
        "conn.execute(q)\n"
        "await projection.one(q, ())\n"
    )
    assert [hit.split()[0] for hit in sql_in(bad)] == [f"bad.py:{n}" for n in (1, 2, 3, 4, 5, 6)]


def test_the_check_leaves_prose_alone(tmp_path: Path) -> None:
    fine = tmp_path / "fine.py"
    fine.write_text(
        'a = "Only set client_id for update."\n'
        'b = "Select a file from your library, where it is kept"\n'
        'c = "Use either \'before\' or \'since\', not both."\n'
    )
    assert sql_in(fine) == []
