"""Film display speed on a synthetic 50-megapixel 16-bit long-leg film.

Prints one line per figure, ``name: value (goal ...)``. Interaction figures are the median time of
one step including a synchronous repaint of the whole 1600 x 1000 viewport, divided by a 16 ms
frame budget (goal: at most 1.0); the ``_p90`` lines give the 90th percentile of the same steps,
which includes the steps that had to window a new region. No asserts: a figure, not a test.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_view.py``
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from deformity_app.gui.film_view import FilmView  # noqa: E402

FRAME_MS = 16.0
ROWS, COLS = 10_000, 5_000          # 50 megapixels, a long-leg film's aspect
VIEW_W, VIEW_H = 1600, 1000
STEPS = 40


def synthetic_film(rows: int = ROWS, cols: int = COLS, seed: int = 0) -> np.ndarray:
    """uint16 film, 12 bits used: smooth soft-tissue and bone-like gradients plus noise."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, cols, dtype=np.float32)[None, :]
    film = 900.0 + 1400.0 * np.exp(-(x / 0.55) ** 2) + 300.0 * y          # soft tissue
    for cx in (-0.25, 0.25):                                               # two long bones
        film = film + 1200.0 * np.exp(-((x - cx - 0.05 * np.sin(6 * y)) / 0.08) ** 2)
    film = film + rng.integers(-40, 41, (rows, cols), dtype=np.int16)
    return np.clip(film, 0, 4095).astype(np.uint16)


def timed(step: Callable[[], None], n: int = STEPS, warmup: int = 3) -> list[float]:
    """Milliseconds of each of ``n`` calls of ``step`` (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        step()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def wheel(view: FilmView, notches: int) -> None:
    vp = view.viewport()
    pos = QPointF(vp.width() / 2 + 37, vp.height() / 2 - 21)
    ev = QWheelEvent(pos, vp.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(vp, ev)


def report(name: str, samples_ms: list[float]) -> None:
    med = statistics.median(samples_ms)
    p90 = float(np.percentile(samples_ms, 90))
    print(f"{name}: {med / FRAME_MS:.2f} (goal <= 1.0; median {med:.1f} ms of a {FRAME_MS:.0f} ms frame)")
    print(f"{name}_p90: {p90 / FRAME_MS:.2f} (goal <= 1.0; 90th percentile {p90:.1f} ms)")


def main() -> None:
    app = QApplication.instance() or QApplication([])
    film = synthetic_film()

    t0 = time.perf_counter()
    np.ascontiguousarray(film.copy())
    copy_ms = (time.perf_counter() - t0) * 1e3

    view = FilmView()
    view.resize(VIEW_W, VIEW_H)
    view.show()
    app.processEvents()

    t0 = time.perf_counter()
    view.set_film(film)               # window=None: includes the automatic window
    view.viewport().repaint()
    first_ms = (time.perf_counter() - t0) * 1e3
    print(f"first_frame_ms: {first_ms:.1f} (goal: small against decode time; set_film with automatic window"
          f" + first synchronous paint)")
    print(f"first_frame_vs_copy: {first_ms / copy_ms:.2f} (goal <= 1.0: no slower than one copy of the film,"
          f" np.ascontiguousarray(pixels.copy()) = {copy_ms:.1f} ms; decode time to be wired in by the lead)")

    t0 = time.perf_counter()
    while not view.pyramid_complete():
        app.processEvents()
        time.sleep(0.001)
    app.processEvents()
    print(f"pyramid_build_ms: {(time.perf_counter() - t0) * 1e3 + first_ms:.1f} "
          f"(goal: background, GUI not blocked; from set_film)")

    c0, w0 = view.window()
    vp = view.viewport()
    h, v = view.horizontalScrollBar(), view.verticalScrollBar()

    for label, setup in (("fit", view.fit), ("1to1", view.one_to_one)):
        setup()
        vp.repaint()
        flip = [1]

        def window_step() -> None:
            flip[0] = -flip[0]
            view.set_window(c0 + flip[0] * 0.02 * w0, w0 * (1.0 + 0.01 * flip[0]))
            vp.repaint()

        report(f"window_{label}", timed(window_step))

        direction = [1]
        count = [0]

        def pan_step() -> None:
            # a steady drag: 10 steps one way, then 10 back, like a hand moving the film
            count[0] += 1
            if count[0] % 10 == 0:
                direction[0] = -direction[0]
            h.setValue(h.value() + 50 * direction[0])
            v.setValue(v.value() + 20 * direction[0])
            vp.repaint()

        report(f"pan_{label}", timed(pan_step))

        setup()
        notch = [1]

        def zoom_step() -> None:
            wheel(view, notch[0])    # in, out, in, out ... around this zoom
            notch[0] = -notch[0]
            vp.repaint()

        report(f"zoom_{label}", timed(zoom_step))

    view.close()


if __name__ == "__main__":
    main()
