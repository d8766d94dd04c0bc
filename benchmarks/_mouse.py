"""Drive a view with real mouse events and wait for Qt's own repaint, for the app benchmarks."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget


class _PaintCounter(QObject):
    count = 0

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Paint:
            self.count += 1
        return False


class MouseDrag:
    """Left-button drags on `viewport`; each step is timed until the viewport has painted it, the way
    a user's mouse event is handled: the event, then the scene's dirty region repainted."""

    def __init__(self, viewport: QWidget) -> None:
        self.viewport = viewport
        self.app = QApplication.instance()
        self._paints = _PaintCounter()
        viewport.installEventFilter(self._paints)

    def _send(self, kind: QEvent.Type, pos: QPointF, buttons) -> None:
        button = Qt.NoButton if kind == QEvent.MouseMove else Qt.LeftButton
        event = QMouseEvent(kind, pos, self.viewport.mapToGlobal(pos), button, buttons, Qt.NoModifier)
        QApplication.sendEvent(self.viewport, event)

    def painted(self) -> None:
        before = self._paints.count
        for _ in range(50):
            self.app.processEvents()
            if self._paints.count > before:
                return
        raise SystemExit("the viewport never repainted: the benchmark measured nothing")

    def drag(self, start: QPointF, offsets: list[QPointF], full_repaint: bool = False) -> list[float]:
        """Press at `start`, move through start + each offset, release; milliseconds per move.
        `full_repaint` repaints the whole viewport synchronously instead (the worst case)."""
        finish: Callable[[], None] = self.viewport.repaint if full_repaint else self.painted
        self._send(QEvent.MouseButtonPress, start, Qt.LeftButton)
        times = []
        for offset in offsets:
            t = time.perf_counter()
            self._send(QEvent.MouseMove, start + offset, Qt.LeftButton)
            finish()
            times.append((time.perf_counter() - t) * 1e3)
        self._send(QEvent.MouseButtonRelease, start + offsets[-1], Qt.NoButton)
        self.app.processEvents()
        return times


def summary(times: list[float], skip: int = 3) -> tuple[float, float]:
    """Median and 90th percentile in ms, without the first `skip` steps (caches filling)."""
    rest = times[skip:]
    return statistics.median(rest), statistics.quantiles(rest, n=10)[-1]
