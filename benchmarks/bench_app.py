"""The whole viewer on a 50-megapixel film: open to first frame, and a landmark drag.

Prints `name: value (goal ...)`. The open figure is divided by pydicom's bare decode
(`dcmread` + `pixel_array`) of the same file measured in the same run; the drag figure is the
median time of one mouse-drag step (the mouse event, the command, the measurements, the overlay,
the panel and a synchronous repaint of the 1600 x 1000 viewport) divided by a 16 ms frame. No asserts: machines here are noisy.

Run: `QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_app.py`
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DEFORMITY_APP_HOME", str(Path(os.environ.get("TMPDIR", "/tmp")) / "deformity-bench-home"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FRAME_MS = 16.0


def _paint_counter():
    from PySide6.QtCore import QEvent, QObject

    class PaintCounter(QObject):
        count = 0

        def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
            if event.type() == QEvent.Paint:
                self.count += 1
            return False

    return PaintCounter


def main() -> None:
    import pydicom
    from PySide6.QtCore import QEvent, QEventLoop, QPointF, QSettings, Qt, QTimer
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from benchmarks._bigfilm import big_demo
    from deformity_app.gui.main_window import MainWindow
    from measurements.case import load_case
    from measurements.landmarks import Side

    t0 = time.perf_counter()
    film, case_path = big_demo()
    print(f"# synthetic film written in {time.perf_counter() - t0:.1f} s: {film}")

    decode = []
    for _ in range(2):
        t0 = time.perf_counter()
        ds = pydicom.dcmread(film)
        pixels = ds.pixel_array
        decode.append(time.perf_counter() - t0)
    rows, cols = pixels.shape
    del ds, pixels
    bare = min(decode)
    print(f"# {cols} x {rows} = {rows * cols / 1e6:.1f} megapixels; bare pydicom decode {bare * 1e3:.0f} ms")

    app = QApplication.instance() or QApplication([])
    PaintCounter = _paint_counter()
    settings = QSettings(str(Path(os.environ["DEFORMITY_APP_HOME"]) / "bench.ini"), QSettings.IniFormat)
    window = MainWindow(settings)
    window.resize(1600 + 700, 1000)
    window.show()
    app.processEvents()

    loop = QEventLoop()
    window.filmLoaded.connect(loop.quit)
    t0 = time.perf_counter()
    window.open_film(film, load_case(case_path), case_path, ask=False)
    QTimer.singleShot(120_000, loop.quit)
    loop.exec()
    window.view.viewport().repaint()
    first = time.perf_counter() - t0
    print(f"open_to_first_frame_vs_decode: {first / bare:.2f} (goal <= 1.2; {first * 1e3:.0f} ms from open to the "
          f"first painted frame, landmarks and overlays included)")

    # drag the right knee centre with the mouse at a working zoom, one small step at a time: the
    # press grabs the marker, each move goes through the view, the marker, the document's command,
    # the measurements, the overlay and the panel, then the viewport repaints synchronously
    view = window.view
    vp = view.viewport()
    x, y = window.doc.landmark(Side.RIGHT, "knee_center")

    def mouse(kind, pos, buttons):
        event = QMouseEvent(kind, pos, vp.mapToGlobal(pos), Qt.LeftButton if kind != QEvent.MouseMove else
                            Qt.NoButton, buttons, Qt.NoModifier)
        QApplication.sendEvent(vp, event)

    paints = PaintCounter()
    vp.installEventFilter(paints)

    def painted() -> None:
        """Run the event loop until the viewport has painted what the move changed (Qt's own path:
        the scene collects dirty items, the view repaints their region)."""
        before = paints.count
        for _ in range(50):
            app.processEvents()
            if paints.count > before:
                return
        raise SystemExit("the viewport never repainted: the benchmark measured nothing")

    for zoom, name in ((view.fit_zoom(), "fit"), (1.0, "1to1")):
        for how, finish in (("", painted), ("_full_repaint", vp.repaint)):
            view.set_zoom(zoom)
            view.centerOn(x, y)
            app.processEvents()
            start = QPointF(view.mapFromScene(QPointF(x, y)))
            mouse(QEvent.MouseButtonPress, start, Qt.LeftButton)
            times = []
            for i in range(43):
                t = time.perf_counter()
                mouse(QEvent.MouseMove, start + QPointF(1 + i % 10, 1 + i % 7), Qt.LeftButton)
                finish()
                times.append((time.perf_counter() - t) * 1e3)
            mouse(QEvent.MouseButtonRelease, start, Qt.NoButton)
            if window.doc.landmark(Side.RIGHT, "knee_center") == (x, y):
                raise SystemExit("the drag did not move the landmark: the benchmark measured nothing")
            window.doc.undo_stack.undo()
            app.processEvents()
            med = statistics.median(times[3:])
            p90 = statistics.quantiles(times[3:], n=10)[-1]
            what = ("the whole viewport repainted" if how else "Qt repaints what changed")
            print(f"landmark_drag_{name}{how}: {med / FRAME_MS:.2f} (goal <= 1.0; median {med:.1f} ms per drag step: "
                  f"mouse event, command, measure, overlay, {what}; 90th percentile {p90:.1f} ms"
                  + ("" if how else ": the steps that also refresh the measurement panel, at most every 80 ms") + ")")
    window.doc.undo_stack.setClean()
    window.close()


if __name__ == "__main__":
    main()
