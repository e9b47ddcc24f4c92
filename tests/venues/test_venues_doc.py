"""docs/venues.md stays true to the conformance suite: its table has one column per
venue × market case, one row per scenario, and every cell links to the scenario's
test function (at the line it is defined on) with the pytest node id as link title."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .conformance.cases import CONFORMANCE_CASES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "venues.md"
SUITE = ROOT / "tests" / "venues" / "test_conformance.py"
SUITE_LINK = "../tests/venues/test_conformance.py"
HEADER = "| Capability | Test |"
ROW_TEST = re.compile(rf"\[`(?P<name>test_\w+)`\]\({re.escape(SUITE_LINK)}#L(?P<line>\d+)\)")
CELL = re.compile(rf'\[(?P<mark>✅|❌)\]\({re.escape(SUITE_LINK)}#L(?P<line>\d+) "(?P<node>[^"]+)"\)')


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table() -> list[list[str]]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(HEADER))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(_cells(line))
    return rows


def _scenarios() -> dict[str, int]:
    tree = ast.parse(SUITE.read_text(encoding="utf-8"))
    return {
        node.name: node.lineno
        for node in tree.body
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and node.name.startswith("test_")
    }


def test_the_table_has_one_column_per_case_and_one_row_per_scenario() -> None:
    header, _separator, *rows = _table()
    assert header[2:] == [case.id for case in CONFORMANCE_CASES]
    named = []
    for row in rows:
        match = ROW_TEST.fullmatch(row[1])
        assert match is not None, f"the Test cell of {row[0]!r} is not a link to a scenario"
        named.append(match["name"])
    assert sorted(named) == sorted(_scenarios())
    assert len(set(named)) == len(named)


def test_every_cell_links_to_its_test_and_names_its_node() -> None:
    _header, _separator, *rows = _table()
    scenarios = _scenarios()
    for row in rows:
        match = ROW_TEST.fullmatch(row[1])
        assert match is not None
        name = match["name"]
        assert int(match["line"]) == scenarios[name], f"{name} is defined at line {scenarios[name]}"
        assert len(row) == 2 + len(CONFORMANCE_CASES)
        for case, cell in zip(CONFORMANCE_CASES, row[2:], strict=True):
            found = CELL.fullmatch(cell)
            assert found is not None, f"{name} × {case.id}: {cell!r}"
            assert int(found["line"]) == scenarios[name]
            assert found["node"] == f"tests/venues/test_conformance.py::{name}[{case.id}]"
