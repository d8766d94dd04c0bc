"""A failing paint is logged once and drawn without; it never reaches Qt (where it can crash)."""
from __future__ import annotations

import logging

import numpy as np

from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from deformity_app.gui.film_view import FilmView
from deformity_app.gui.guard import guarded, reported


class FailingItem(QGraphicsItem):
    paints = 0

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(0, 0, 20, 20)

    @guarded
    def paint(self, painter, option, widget=None) -> None:
        FailingItem.paints += 1
        raise TypeError("'>' not supported between instances of 'TransformationType' and 'TransformationType'")


def test_a_failing_paint_is_logged_once_and_the_view_goes_on(qtbot, caplog):
    view = FilmView()  # overrides viewportEvent in Python: the path where the crash was seen
    qtbot.addWidget(view)
    view.scene().addItem(FailingItem())
    view.resize(200, 200)
    view.show()
    view.set_film(np.full((60, 60), 1000, np.uint16))  # a film under the item
    qtbot.waitExposed(view)
    with caplog.at_level(logging.ERROR, logger="deformity_app.gui.guard"):
        for _ in range(3):
            view.viewport().repaint()
            qtbot.wait(10)
    assert FailingItem.paints >= 3  # painted (and failed) each time, and the program is still here
    records = [r for r in caplog.records if "FailingItem.paint failed" in r.getMessage()]
    assert len(records) == 1 and "TypeError" in caplog.text  # with its traceback
    assert ("FailingItem", "paint") in reported()


def test_every_paint_override_of_the_application_is_guarded():
    import inspect

    from deformity_app.gui import film_view, panels, planning, practice, scene_items, study_view

    unguarded = []
    for module in (film_view, panels, planning, practice, scene_items, study_view):
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for method in ("paint", "paintEvent"):
                fn = cls.__dict__.get(method)
                if fn is not None and cls is not film_view.FilmRenderer and not hasattr(fn, "__wrapped__"):
                    unguarded.append(f"{module.__name__}.{name}.{method}")
    assert unguarded == []
