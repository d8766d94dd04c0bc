"""Planning on a 50-megapixel film: dragging the hinge of a plan that solves a WBL target.

Each step moves the hinge (one command), re-solves the angle for 62.5 % WBL, moves the fragment of
the film and repaints the 1600 x 1000 viewport synchronously. Prints the median step as a ratio to
a 16 ms frame (goal at most 1.0), and the solve alone for comparison. No asserts.

Run: `QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_plan.py`
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


def main() -> None:
    from PySide6.QtCore import QEventLoop, QPointF, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from benchmarks._mouse import MouseDrag, summary

    from benchmarks._bigfilm import big_demo
    from deformity_app.gui.main_window import MainWindow
    from measurements.case import load_case
    from measurements.landmarks import Side
    from measurements.planning import find_cora, simulate

    film, case_path = big_demo()
    app = QApplication.instance() or QApplication([])
    window = MainWindow(QSettings(str(Path(os.environ["DEFORMITY_APP_HOME"]) / "bench.ini"), QSettings.IniFormat))
    window.resize(2300, 1000)
    window.show()
    loop = QEventLoop()
    window.filmLoaded.connect(loop.quit)
    window.open_film(film, load_case(case_path), case_path, ask=False)
    QTimer.singleShot(120_000, loop.quit)
    loop.exec()
    window.set_planning_mode(True)
    cora = find_cora(window.doc.case, Side.RIGHT, "tibia")
    cx, cy = cora.cora_px
    half = 40.0 / 0.09  # a 80 mm cut
    window.planning.add_plan_from_cut((cx - half, cy), (cx + half, cy))
    window.planning.panel.fujisawa.click()
    plan = window.planning.current_plan()
    print(f"# plan: target {plan.get('target')}, solved angle {window.planning.last_simulation.angle_deg:.2f} deg")

    solve = []
    for _ in range(20):
        t = time.perf_counter()
        simulate(window.doc.case, Side.RIGHT, plan)
        solve.append((time.perf_counter() - t) * 1e3)
    print(f"plan_solve: {statistics.median(solve) / FRAME_MS:.2f} (goal <= 1.0; median {statistics.median(solve):.1f} ms "
          "to solve the target and predict every measurement)")

    # drag the hinge with the mouse: each move re-solves the target, moves the fragment of the film
    # and its overlays, then Qt repaints what changed
    view = window.view
    mouse = MouseDrag(view.viewport())
    hinge = window.planning.hinge
    offsets = [QPointF(-1 - i % 12, i % 5) for i in range(33)]
    for zoom, name in ((view.fit_zoom(), "fit"), (0.5, "half")):
        for full in (False, True):
            view.set_zoom(zoom)
            view.centerOn(cx, cy + 1500)
            app.processEvents()
            before = list(window.planning.current_plan()["hinge_px"])
            times = mouse.drag(QPointF(view.mapFromScene(hinge.scenePos())), offsets, full_repaint=full)
            if list(window.planning.current_plan()["hinge_px"]) == before:
                raise SystemExit("the drag did not move the hinge: the benchmark measured nothing")
            window.doc.undo_stack.undo()
            app.processEvents()
            med, p90 = summary(times)
            what = "the whole viewport repainted" if full else "Qt repaints what changed"
            print(f"hinge_drag_{name}{'_full_repaint' if full else ''}: {med / FRAME_MS:.2f} (goal <= 1.0; median "
                  f"{med:.1f} ms per step: mouse event, re-solve, move the fragment, {what}; 90th percentile "
                  f"{p90:.1f} ms)")
    window.doc.undo_stack.setClean()
    window.close()


if __name__ == "__main__":
    main()
