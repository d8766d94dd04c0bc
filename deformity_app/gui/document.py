"""The open case as the GUI sees it: the Case, its film, its file, and the one undo stack.

Every edit goes through a QUndoCommand that changes the Case here; views (scene items, panels)
listen to `changed` and redraw from the Case. Nothing reads a value back from a widget.
"""
from __future__ import annotations

import copy
import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from measurements.case import Case, Point
from measurements.landmarks import Side, landmark_label
from measurements.measure import CaseResult, measure_case

log = logging.getLogger(__name__)

_gesture_ids = itertools.count(1)


def new_gesture_id() -> int:
    """An id that ties the many small moves of one drag into one undo step."""
    return next(_gesture_ids)


@dataclass(frozen=True, slots=True)
class CalibrationState:
    pixel_spacing_mm: tuple[float, float] | None
    source: str
    extra: dict[str, Any] = field(default_factory=dict)


class CaseDocument(QObject):
    """The model of the open work. `changed` fires after every change of the case."""

    changed = Signal()
    filmChanged = Signal()
    pathChanged = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.case = Case()
        self.radiograph = None  # dicom_io Radiograph, or None before a film is open
        self.film_path: Path | None = None
        self.case_path: Path | None = None
        self.undo_stack = QUndoStack(self)
        self._result: CaseResult | None = None
        self._last_result: tuple[tuple, CaseResult] | None = None

    # --- reading -----------------------------------------------------------------------------------
    @property
    def result(self) -> CaseResult:
        """The measurements of the case. The same object while what they are computed from is the
        same (landmarks, calibration, orientation): a plan or reference edit does not re-measure,
        and views can skip redrawing what depends on the result only."""
        if self._result is None:
            inputs = self._measure_inputs()
            if self._last_result is not None and inputs == self._last_result[0]:
                self._result = self._last_result[1]
            else:
                self._result = measure_case(self.case)
                self._last_result = (inputs, self._result)
        return self._result

    def _measure_inputs(self) -> tuple:
        """What measurements.measure reads from the case (a copy, compared by value)."""
        case = self.case
        limbs = tuple((str(side), tuple(sorted((name, tuple(p)) for name, p in limb.landmarks.items())))
                      for side, limb in sorted(case.limbs.items(), key=lambda item: str(item[0])))
        spacing = tuple(case.pixel_spacing_mm) if case.pixel_spacing_mm else None
        return (limbs, spacing, case.calibration_source, repr(case.patient_orientation), tuple(case.warnings),
                case.image.get("rows"), case.image.get("columns"))

    def landmark(self, side: Side, name: str) -> Point | None:
        limb = self.case.limbs.get(side)
        return limb.landmarks.get(name) if limb else None

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    # --- replacing the whole document --------------------------------------------------------------
    def reset(self, case: Case, radiograph=None, film_path: Path | None = None, case_path: Path | None = None) -> None:
        self.case = case
        self.radiograph = radiograph
        self.film_path = film_path
        self.case_path = case_path
        self.undo_stack.clear()
        self._touch()
        self.filmChanged.emit()
        self.pathChanged.emit()

    def set_case_path(self, path: Path | None) -> None:
        self.case_path = path
        self.pathChanged.emit()

    # --- mutations used by commands only ------------------------------------------------------------
    def _touch(self) -> None:
        self._result = None
        self.changed.emit()

    def _set_landmark(self, side: Side, name: str, point: Point | None) -> None:
        limb = self.case.limb(side)
        if point is None:
            limb.landmarks.pop(name, None)
        else:
            limb.landmarks[name] = (float(point[0]), float(point[1]))
        self._touch()

    def _set_limb_extra(self, side: Side, key: str, value: Any) -> None:
        limb = self.case.limb(side)
        if value is None:
            limb.extra.pop(key, None)
        else:
            limb.extra[key] = copy.deepcopy(value)
        self._touch()

    def _set_calibration(self, state: CalibrationState) -> None:
        self.case.pixel_spacing_mm = state.pixel_spacing_mm
        self.case.calibration_source = state.source
        self.case.calibration_extra = copy.deepcopy(state.extra)
        self._touch()

    def calibration_state(self) -> CalibrationState:
        return CalibrationState(self.case.pixel_spacing_mm, self.case.calibration_source,
                                copy.deepcopy(self.case.calibration_extra))

    # --- edits (each one undoable) ------------------------------------------------------------------
    def place_landmark(self, side: Side, name: str, point: Point) -> None:
        old = self.landmark(side, name)
        verb = "Move" if old is not None else "Place"
        self.undo_stack.push(SetLandmark(self, side, name, old, point, f"{verb} {_title(side, name)}"))

    def move_landmark(self, side: Side, name: str, point: Point, gesture: int) -> None:
        """One step of a drag or a nudge; steps of the same `gesture` merge into one undo entry."""
        old = self.landmark(side, name)
        self.undo_stack.push(SetLandmark(self, side, name, old, point, f"Move {_title(side, name)}", gesture))

    def delete_landmark(self, side: Side, name: str) -> None:
        old = self.landmark(side, name)
        if old is not None:
            self.undo_stack.push(SetLandmark(self, side, name, old, None, f"Delete {_title(side, name)}"))

    def set_limb_extra(self, side: Side, key: str, value: Any, text: str, gesture: int = 0) -> None:
        """Set a limb key (reference angles, plans, the head circle); steps of one `gesture` merge."""
        old = copy.deepcopy(self.case.limbs[side].extra.get(key)) if side in self.case.limbs else None
        self.undo_stack.push(SetLimbExtra(self, side, key, old, value, text, gesture))

    def set_case_extra(self, key: str, value: Any, text: str) -> None:
        """Set a case-level key (e.g. `patient`)."""
        old = copy.deepcopy(self.case.extra.get(key))
        self.undo_stack.push(SetCaseExtra(self, key, old, value, text))

    def _set_case_extra(self, key: str, value: Any) -> None:
        if value is None:
            self.case.extra.pop(key, None)
        else:
            self.case.extra[key] = copy.deepcopy(value)
        self._touch()

    def set_calibration(self, state: CalibrationState, text: str) -> None:
        self.undo_stack.push(SetCalibration(self, self.calibration_state(), state, text))


def _title(side: Side, name: str) -> str:
    return f"{side} {landmark_label(name).lower()}"


class SetLandmark(QUndoCommand):
    """Place, move or delete one landmark. Holds values (limb, name, old and new point), never items."""

    ID = 1001

    def __init__(self, doc: CaseDocument, side: Side, name: str, old: Point | None, new: Point | None, text: str,
                 gesture: int = 0) -> None:
        super().__init__(text)
        self.doc, self.side, self.name, self.old, self.new, self.gesture = doc, side, name, old, new, gesture

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self.ID

    def redo(self) -> None:
        self.doc._set_landmark(self.side, self.name, self.new)

    def undo(self) -> None:
        self.doc._set_landmark(self.side, self.name, self.old)

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, SetLandmark) or not self.gesture or other.gesture != self.gesture:
            return False
        if (other.side, other.name) != (self.side, self.name):
            return False
        self.new = other.new
        return True


class SetLimbExtra(QUndoCommand):
    ID = 1002

    def __init__(self, doc: CaseDocument, side: Side, key: str, old: Any, new: Any, text: str,
                 gesture: int = 0) -> None:
        super().__init__(text)
        self.doc, self.side, self.key, self.gesture = doc, side, key, gesture
        self.old, self.new = copy.deepcopy(old), copy.deepcopy(new)

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self.ID

    def redo(self) -> None:
        self.doc._set_limb_extra(self.side, self.key, self.new)

    def undo(self) -> None:
        self.doc._set_limb_extra(self.side, self.key, self.old)

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, SetLimbExtra) or not self.gesture or other.gesture != self.gesture:
            return False
        if (other.side, other.key) != (self.side, self.key):
            return False
        self.new = copy.deepcopy(other.new)
        return True


class SetCaseExtra(QUndoCommand):
    def __init__(self, doc: CaseDocument, key: str, old: Any, new: Any, text: str) -> None:
        super().__init__(text)
        self.doc, self.key = doc, key
        self.old, self.new = copy.deepcopy(old), copy.deepcopy(new)

    def redo(self) -> None:
        self.doc._set_case_extra(self.key, self.new)

    def undo(self) -> None:
        self.doc._set_case_extra(self.key, self.old)


class SetCalibration(QUndoCommand):
    def __init__(self, doc: CaseDocument, old: CalibrationState, new: CalibrationState, text: str) -> None:
        super().__init__(text)
        self.doc, self.old, self.new = doc, old, new

    def redo(self) -> None:
        self.doc._set_calibration(self.new)

    def undo(self) -> None:
        self.doc._set_calibration(self.old)
