"""Fixtures for the application tests: small synthetic films with known landmarks, and a window."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> tuple[Path, Path]:
    """The demo's deformity (right proximal tibial varus) at 0.6 mm spacing: 625 x 1750 pixels."""
    from dicom_io.demo import DEFAULT_DEMO, write_demo
    import dataclasses

    folder = tmp_path_factory.mktemp("demo")
    spec = dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=0.6)
    return write_demo(folder, spec, name="small")


@pytest.fixture
def ground_truth(small_demo) -> dict:
    return json.loads(small_demo[1].read_text())


@pytest.fixture
def window(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from deformity_app.gui.main_window import MainWindow

    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    w.resize(1400, 900)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.doc.undo_stack.setClean()  # let the window close without asking


def open_and_wait(qtbot, window, path: Path, case=None, case_path=None) -> None:
    with qtbot.waitSignal(window.filmLoaded, timeout=60000):
        if case is None:
            window.open_film(path, ask=False)
        else:
            window.open_film(path, case, case_path, ask=False)


def screenshot(window, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    window.grab().save(str(path))
    return path


@pytest.fixture(autouse=True)
def no_modal_dialogs(monkeypatch):
    """A modal dialog would block a headless test forever: record what would have been shown instead,
    answering like a cautious user (Cancel / No). Tests that need another answer patch it themselves."""
    from PySide6.QtWidgets import QMessageBox

    shown: list[tuple[str, str]] = []

    def record(kind, answer):
        def _show(_parent, title, text, *args, **kwargs):
            shown.append((kind, str(text)))
            return answer
        return _show

    monkeypatch.setattr(QMessageBox, "question", record("question", QMessageBox.Cancel))
    monkeypatch.setattr(QMessageBox, "warning", record("warning", QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "information", record("information", QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "critical", record("critical", QMessageBox.Ok))
    return shown


def assert_screen_matches_a_full_repaint(qtbot, viewport) -> None:
    """The viewport as painted so far (partial updates) equals a repaint of all of it."""
    qtbot.wait(50)
    painted = screen_pixels(viewport)
    viewport.repaint()
    fresh = screen_pixels(viewport)
    # the same picture; smooth scaling of a part of the film may round a few pixels one level apart
    assert painted.size() == fresh.size() and not painted.isNull()
    difference = np.abs(image_array(painted).astype(int) - image_array(fresh).astype(int))
    assert difference.max() <= 2, f"{int((difference > 2).sum())} pixels differ"


def image_array(image):
    image = image.convertToFormat(image.Format.Format_RGB32)
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())


def screen_pixels(widget):
    """What is on screen for `widget` (the window's backing store), not a fresh render like grab()."""
    top_left = widget.mapTo(widget.window(), QPoint(0, 0))
    return widget.screen().grabWindow(widget.window().winId(), top_left.x(), top_left.y(), widget.width(),
                                      widget.height()).toImage()
