"""Checks on what a table shows a reader (shared by the practice and study view tests)."""
from __future__ import annotations

from PySide6.QtGui import QFontMetrics

CELL_PADDING_PX = 6  # the style's margins on either side of a cell's text


def assert_cells_fit(table) -> None:
    """Every cell's text fits its column (nothing elided "…"), spanning section rows aside, and the
    columns fit the table's width: nothing hides past its right edge."""
    for row in range(table.rowCount()):
        if table.columnSpan(row, 0) > 1:
            continue
        for col in range(table.columnCount()):
            item = table.item(row, col)
            if item is None or not item.text():
                continue
            needed = QFontMetrics(item.font()).horizontalAdvance(item.text()) + CELL_PADDING_PX
            assert needed <= table.columnWidth(col), (row, col, item.text(), needed, table.columnWidth(col))
    header = table.horizontalHeader()
    assert header.length() <= table.viewport().width() + 1, (header.length(), table.viewport().width())
