"""Practice mode: measure a teaching key's film blind, submit, and see where the expert differs.

A session opens a key's film with a blank attempt (`measurements.scoring.blank_attempt`): the
expert's landmarks stay in this controller's memory only, never in the scene, the case or the
window title. Nothing shown before submission names the deformity: the chooser calls a key by its
number until the fellow has done it (titles such as "Proximal tibial varus" are the answer), the
shipped bank's films are named and described neutrally (`dicom_io.demo.write_bank_film`), and the
film is opened through a neutrally named copy, since a clinic's key files are named after their
titles. The fellow measures with the normal guided workflow and submits; the attempt is
scored (`score_attempt`), kept (`practice_store.save_attempt`), and the error view appears: the
expert's axes and landmarks in magenta over the fellow's in blue, an arrow from each of the
fellow's points to the expert's with its error, the measurements side by side with their bands,
the malalignment test, the key's diagnosis and teaching points, and the score.

The progress view plots the score over time and the mean error per measurement and per landmark
(scaled by each one's band or tolerance, worst first), from the stored history; the history can be
exported as CSV. A case can be saved as an anonymised key, and the agreement study view
(`study_view`) is reached from the same menu.

Integration: ``install_practice(window)`` at the end of ``MainWindow.__init__``.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import math
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGraphicsItem,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressDialog,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from measurements.case import Case
from measurements.landmarks import Side, landmark_label
from measurements.overlay import build_overlay
from measurements.present import LABELS
from measurements.scoring import (
    MAT_SHOWN,
    SHAFT_PARTNERS,
    UNCALIBRATED_NOTE,
    AttemptScore,
    ScoringError,
    blank_attempt,
    case_measurement_label,
    default_rules,
    on_key_film,
    score_attempt,
)

from ..practice_store import (
    AttemptRecord,
    ErrorSummary,
    SeriesPoint,
    export_history_csv,
    load_history,
    mean_errors,
    save_attempt,
    score_series,
)
from ..teaching_bank import (
    DEFAULT_SPACING_MM,
    LEVELS,
    KeyInfo,
    KeySummary,
    TeachingBankError,
    default_bank_dir,
    ensure_bank,
    list_keys,
    read_key,
    save_as_key,
)
from .guard import guarded
from .scene_items import OverlayItem, place_label

log = logging.getLogger(__name__)

YOURS = QColor(90, 190, 255)  # the fellow's axes in the error view
EXPERT = QColor(255, 80, 220)  # the expert's axes and landmarks
PASS = QColor(110, 225, 110)
FAIL = QColor(255, 95, 95)
PASS_BG = QColor(215, 245, 215)
FAIL_BG = QColor(255, 220, 220)
CHART_BG = QColor(252, 252, 253)
CHART_GRID = QColor(222, 224, 230)
CHART_TEXT = QColor(60, 60, 66)
CHART_LINE = QColor(30, 100, 180)
PRACTICE_FILM_PREFIX = "practice-"
BOTH_LIMBS = "Both limbs"  # the section of the case-level measurements (the limb-length discrepancy)
NEUTRAL_HEADING = "Teaching key"  # what a session is called when no neutral name was given
CSV_FILTER = "CSV (*.csv)"
LABELS_FROM_ZOOM = 1.5  # screen px per image px from which passed landmarks get their error label
SECTION_BG = QColor(232, 235, 241)


# --- work off the GUI thread --------------------------------------------------------------------------


class _Cancelled(Exception):
    pass


class _TaskSignals(QObject):
    progress = Signal(int, int, str)
    finished = Signal(object, str, bool)  # (result, error message, cancelled)


class BackgroundTask(QRunnable):
    """Runs ``fn(progress)`` on the global thread pool; `progress(done, total, text)` raises when cancelled."""

    def __init__(self, fn: Callable[[Callable[[int, int, str], None]], Any]) -> None:
        super().__init__()
        self.fn = fn
        self.signals = _TaskSignals()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def _progress(self, done: int, total: int, text: str) -> None:
        if self._cancel.is_set():
            raise _Cancelled
        self.signals.progress.emit(done, total, text)

    def run(self) -> None:
        try:
            result = self.fn(self._progress)
        except _Cancelled:
            self.signals.finished.emit(None, "", True)
        except (TeachingBankError, OSError, ValueError) as exc:
            self.signals.finished.emit(None, str(exc), False)
        except Exception as exc:  # noqa: BLE001 - never let a worker die silently
            log.exception("unexpected error in a background task")
            self.signals.finished.emit(None, f"an unexpected error ({type(exc).__name__})", False)
        else:
            self.signals.finished.emit(result, "", False)


_running: set[BackgroundTask] = set()  # the Python side of running tasks stays alive until they finish


def run_in_background(fn: Callable[[Callable[[int, int, str], None]], Any],
                      done: Callable[[Any, str, bool], None],
                      progress: Callable[[int, int, str], None] | None = None) -> BackgroundTask:
    """Start `fn` on the global QThreadPool; `done(result, error, cancelled)` runs on the GUI thread."""
    task = BackgroundTask(fn)
    _running.add(task)

    def finished(result: Any, error: str, cancelled: bool) -> None:
        _running.discard(task)
        done(result, error, cancelled)

    task.signals.finished.connect(finished)
    if progress is not None:
        task.signals.progress.connect(progress)
    QThreadPool.globalInstance().start(task)
    return task


# --- formatting --------------------------------------------------------------------------------------


def unit_of(key: str) -> str:
    return key.rsplit("_", 1)[-1]


def measurement_name(key: str) -> str:
    if key.startswith("lld_"):
        return case_measurement_label(key)
    if key.endswith("_px"):
        return LABELS.get(key[:-3] + "_mm", key) + " (px)"
    return LABELS.get(key, key)


def _number(value: float | None, unit: str, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    text = f"{value:+.1f}" if signed else f"{value:.1f}"
    if float(text) == 0:
        text = "0.0"
    text = text.replace("-", "−")
    return text + {"deg": "°", "mm": " mm", "px": " px", "%": " %"}.get(unit, f" {unit}" if unit else "")


def value_text(key: str, value: float | None, short: bool = False) -> str:
    """A measured value as the measurement panel words it: MAD with its side (positive is medial);
    `short` writes the side "med." / "lat." (the review table is narrow)."""
    unit = unit_of(key)
    if key.startswith("mad_") and value is not None and math.isfinite(value) and round(value, 1) != 0:
        side = ("med." if short else "medial") if value > 0 else ("lat." if short else "lateral")
        return f"{_number(abs(value), unit)} {side}"
    return _number(value, unit)


# The review table's name for a measurement where the panel's is too wide for the dock.
SHORT_NAMES = {"mechanical_axis_length": "Mech. axis length"}


def short_measurement_name(key: str) -> str:
    stem = key.rsplit("_", 1)[0]
    name = SHORT_NAMES.get(stem)
    if name is None:
        return measurement_name(key)
    return name + (" (px)" if key.endswith("_px") else "")


def _when(value: _dt.datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def attempts_of(summary: KeySummary, records: Sequence[AttemptRecord]) -> list[AttemptRecord]:
    """The stored attempts on a key: matched by its id, its film's UID or its file."""
    ids = {summary.id, summary.sop_instance_uid} - {""}
    path = str(summary.path)
    return [r for r in records if r.key_id in ids or (r.key_file and r.key_file == path)]


# --- choosing a key ----------------------------------------------------------------------------------


class KeyChooser(QDialog):
    """The keys of a bank with their level and the fellow's attempts; filter by level and by "not yet done".

    The diagnosis and the teaching points are never shown here: they are the answer. A key's title
    is hidden too until the fellow has submitted an attempt on it (titles such as "Proximal tibial
    varus" name the deformity); "Show titles" shows them all, for a teacher choosing a key.
    """

    COLUMNS = ("#", "Key", "Level", "Your attempts")
    HIDDEN_NOTE = ("Keys you have not done yet are called by number: a title often names the deformity. "
                   "It is shown once you have submitted an attempt.")

    def __init__(self, keys: Sequence[KeySummary], records: Sequence[AttemptRecord], show_titles: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a teaching key")
        self.keys = list(keys)
        self.chosen: KeySummary | None = None
        self.number_of: dict[Path, int] = {k.path: i + 1 for i, k in enumerate(self.keys)}
        self._done = {k.path: attempts_of(k, records) for k in self.keys}
        layout = QVBoxLayout(self)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Level:"))
        self.level = QComboBox()
        self.level.addItem("All levels", "")
        levels = list(LEVELS) + sorted({k.level for k in self.keys} - set(LEVELS))
        for level in levels:
            self.level.addItem(level.capitalize(), level)
        filters.addWidget(self.level)
        self.not_done = QCheckBox("Not yet done")
        self.not_done.setToolTip("Only the keys you have not submitted an attempt on")
        filters.addWidget(self.not_done)
        self.show_titles = QCheckBox("Show titles")
        self.show_titles.setToolTip("Show the titles of the keys you have not done yet. They often name the "
                                    "deformity: leave this off to practise blind.")
        self.show_titles.setChecked(show_titles)
        filters.addWidget(self.show_titles)
        filters.addStretch(1)
        layout.addLayout(filters)
        self.table = QTableWidget(len(self.keys), len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        self.table.doubleClicked.connect(lambda _i: self.accept())
        layout.addWidget(self.table, 1)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555")
        layout.addWidget(self.note)
        self.empty = QLabel()
        self.empty.setStyleSheet("color: #666")
        layout.addWidget(self.empty)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._fill()
        self.level.currentIndexChanged.connect(self._filter)
        self.not_done.toggled.connect(self._filter)
        self.show_titles.toggled.connect(self._fill)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self._filter()
        self.resize(640, 470)  # the nine keys of the shipped bank without scrolling

    def title_shown(self, key: KeySummary) -> bool:
        """Whether the key's title may be shown: the fellow asked for titles, or has done the key."""
        return self.show_titles.isChecked() or bool(self._done[key.path])

    def title_of(self, key: KeySummary) -> str:
        """What the key is called here and in the practice dock until the attempt is submitted."""
        return key.title if self.title_shown(key) else f"Key {self.number_of[key.path]}"

    def _fill(self) -> None:
        hidden = 0
        for row, key in enumerate(self.keys):
            done = self._done[key.path]
            scores = [r.score_pct for r in done if r.score_pct is not None]
            attempts = "—" if not done else (f"{len(done)} · best {max(scores):.0f} %" if scores else str(len(done)))
            title = self.title_of(key) + ("" if key.film_exists else "  (film missing)")
            hidden += not self.title_shown(key)
            cells = (str(self.number_of[key.path]), title, key.level, attempts)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.UserRole, str(key.path))
                if col == 1 and not self.title_shown(key):
                    item.setForeground(QColor(110, 110, 118))
                    item.setToolTip("The title is shown once you have submitted an attempt on this key")
                if not key.film_exists:
                    item.setFlags(item.flags() & ~Qt.ItemIsEnabled)
                self.table.setItem(row, col, item)
        self.note.setText(self.HIDDEN_NOTE if hidden else "")
        self.note.setVisible(bool(hidden))

    def row_of(self, key_id: str) -> int:
        """The row of the key with this id (-1 when absent)."""
        for row, key in enumerate(self.keys):
            if key.id == key_id:
                return row
        return -1

    def visible_ids(self) -> list[str]:
        return [k.id for row, k in enumerate(self.keys) if not self.table.isRowHidden(row)]

    def _filter(self) -> None:
        level = self.level.currentData()
        shown = 0
        for row, key in enumerate(self.keys):
            hide = (bool(level) and key.level != level) or (self.not_done.isChecked() and bool(self._done[key.path]))
            self.table.setRowHidden(row, hide)
            shown += not hide
        self.empty.setText("" if shown else "No key matches these filters.")
        selected = self.table.selectionModel().selectedRows()
        if not selected or self.table.isRowHidden(selected[0].row()):
            first = next((r for r in range(len(self.keys)) if not self.table.isRowHidden(r)
                          and self.keys[r].film_exists), -1)
            if first >= 0:
                self.table.selectRow(first)
            else:
                self.table.clearSelection()
        self._update_buttons()

    def _current(self) -> KeySummary | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        key = self.keys[rows[0].row()]
        return key if key.film_exists and not self.table.isRowHidden(rows[0].row()) else None

    def _update_buttons(self) -> None:
        self.buttons.button(QDialogButtonBox.Open).setEnabled(self._current() is not None)

    def accept(self) -> None:
        self.chosen = self._current()
        if self.chosen is not None:
            super().accept()


# --- scene items of the error view -------------------------------------------------------------------


class TintedOverlayItem(OverlayItem):
    """An analysis overlay drawn in one colour, lines only (the values are in the review table)."""

    def __init__(self, colour: QColor, width: float = 1.8, dashed: bool = False) -> None:
        super().__init__()
        self.colour = QColor(colour)
        self.width = width
        self.dashed = dashed
        self.setZValue(11)

    @guarded
    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.Antialiasing, True)
        halo = QPen(QColor(0, 0, 0, 150), self.width + 2.0)
        halo.setCosmetic(True)
        pen = QPen(self.colour, self.width)
        pen.setCosmetic(True)
        if self.dashed:
            pen.setStyle(Qt.DashLine)
        for line in self.overlay.polylines:
            if line.layer not in self.layers:
                continue
            polygon = QPolygonF([QPointF(x, y) for x, y in line.points])
            painter.setPen(halo)
            painter.drawPolyline(polygon)
            painter.setPen(pen)
            painter.drawPolyline(polygon)


@dataclass(frozen=True, slots=True)
class ErrorArrow:
    """One key landmark in the error view (image pixels)."""

    side: Side
    name: str
    expert: tuple[float, float]
    attempt: tuple[float, float] | None  # None: the fellow did not place it
    target: tuple[float, float]  # where the arrow ends: the expert's point, or the foot on the shaft line
    error: float | None
    passed: bool
    unit: str


def error_arrows(attempt: Case, key: Case, score: AttemptScore) -> list[ErrorArrow]:
    """The arrows of the error view: from each of the attempt's points to the key's.

    For a shaft midpoint only the distance across the key's shaft line counts (practice.md), so its
    arrow ends at the foot of the perpendicular on that line, and its length is the error.
    """
    row_mm, col_mm = key.pixel_spacing_mm or (1.0, 1.0)
    out: list[ErrorArrow] = []
    for side, limb_score in score.limbs.items():
        key_limb = key.limbs.get(side)
        mine = attempt.limbs.get(side)
        if key_limb is None:
            continue
        for name, s in limb_score.landmarks.items():
            expert = key_limb.landmarks.get(name)
            if expert is None:
                continue
            placed = mine.landmarks.get(name) if mine is not None else None
            target = expert
            partner = key_limb.landmarks.get(SHAFT_PARTNERS.get(name, ""))
            if placed is not None and s.perpendicular_only and partner is not None:
                e = np.array([expert[0] * col_mm, expert[1] * row_mm])
                d = np.array([partner[0] * col_mm, partner[1] * row_mm]) - e
                p = np.array([placed[0] * col_mm, placed[1] * row_mm])
                foot = e + d * float(np.dot(p - e, d) / max(float(np.dot(d, d)), 1e-12))
                target = (float(foot[0] / col_mm), float(foot[1] / row_mm))
            out.append(ErrorArrow(Side(side), name, (float(expert[0]), float(expert[1])),
                                  None if placed is None else (float(placed[0]), float(placed[1])),
                                  (float(target[0]), float(target[1])), s.error, s.passed, score.unit))
    return out


class ErrorArrowsItem(QGraphicsItem):
    """The expert's landmarks (magenta diamonds) and an arrow from each of the fellow's points to them,
    with the error written beside it. Markers, arrowheads and labels keep their screen size; the
    errors of failed landmarks are always written, those of passed ones from 1.5 screen pixels per
    film pixel. Drawn above the fellow's markers (so a short arrow is not hidden under one) but
    transparent to the mouse: the markers stay draggable."""

    MARK = 6.0  # screen pixels
    MARKER_CLEARANCE = 11.0  # a label keeps off the markers: the fellow's are 10 screen pixels in radius

    def __init__(self) -> None:
        super().__init__()
        self.arrows: list[ErrorArrow] = []
        self._rect = QRectF()
        self.setZValue(21)
        self.setAcceptedMouseButtons(Qt.NoButton)
        self.font = QFont()
        self.font.setPointSizeF(9.0)
        self.font.setBold(True)

    def set_arrows(self, arrows: Sequence[ErrorArrow], image_rect: QRectF) -> None:
        self.prepareGeometryChange()
        self.arrows = list(arrows)
        self._rect = image_rect.adjusted(-image_rect.width(), -200, image_rect.width(), 200)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._rect

    @guarded
    def paint(self, painter: QPainter, option, widget=None) -> None:
        transform = painter.worldTransform()
        zoom = math.hypot(transform.m11(), transform.m12())
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.Antialiasing, True)
        for a in self.arrows:
            if a.attempt is not None:
                self._arrow(painter, transform.map(QPointF(*a.attempt)), transform.map(QPointF(*a.target)),
                            PASS if a.passed else FAIL)
        for a in self.arrows:
            self._diamond(painter, transform.map(QPointF(*a.expert)))
        painter.setFont(self.font)
        metrics = QFontMetricsF(self.font)
        c = self.MARKER_CLEARANCE
        placed: list[QRectF] = [QRectF(p.x() - c, p.y() - c, 2 * c, 2 * c) for a in self.arrows
                                for p in (transform.map(QPointF(*a.expert)),
                                          *([transform.map(QPointF(*a.attempt))] if a.attempt else []))]
        for a in sorted(self.arrows, key=lambda a: a.passed):  # failed ones first: they must stay readable
            if a.attempt is None:
                if zoom < LABELS_FROM_ZOOM:
                    continue
                text, anchor, direction = "not placed", transform.map(QPointF(*a.expert)), QPointF(1, 0)
            else:
                if a.passed and zoom < LABELS_FROM_ZOOM:
                    continue
                text = _number(a.error, a.unit)
                anchor = transform.map(QPointF(*a.attempt))
                away = anchor - transform.map(QPointF(*a.target))
                length = math.hypot(away.x(), away.y())
                direction = away / length if length > 1 else QPointF(1, 0)
            size = metrics.boundingRect(text)
            box = place_label(anchor, (direction.x(), direction.y()), size.width() + 8, size.height() + 4, placed)
            placed.append(box)
            near = QPointF(min(max(anchor.x(), box.left()), box.right()), min(max(anchor.y(), box.top()), box.bottom()))
            gap = near - anchor
            distance = math.hypot(gap.x(), gap.y())
            if distance > c + 6:  # the label was pushed away: a leader says whose it is
                painter.setPen(QPen(QColor(255, 255, 255, 150), 1.0))
                painter.drawLine(anchor + gap * (c / distance), near)
            painter.setPen(Qt.NoPen)
            painter.setBrush(QBrush(QColor(0, 0, 0, 185)))
            painter.drawRoundedRect(box, 3, 3)
            painter.setPen(QPen(EXPERT if a.attempt is None else (PASS if a.passed else FAIL)))
            painter.drawText(box, Qt.AlignCenter, text)
        painter.restore()

    def _diamond(self, painter: QPainter, c: QPointF) -> None:
        r = self.MARK
        shape = QPolygonF([c + QPointF(0, -r), c + QPointF(r, 0), c + QPointF(0, r), c + QPointF(-r, 0)])
        painter.setBrush(Qt.NoBrush)
        painter.setPen(QPen(QColor(0, 0, 0, 200), 3.2))
        painter.drawPolygon(shape)
        painter.setPen(QPen(EXPERT, 1.8))
        painter.drawPolygon(shape)
        painter.setBrush(EXPERT)
        painter.setPen(Qt.NoPen)
        painter.drawEllipse(c, 1.3, 1.3)

    @staticmethod
    def _arrow(painter: QPainter, a: QPointF, b: QPointF, colour: QColor) -> None:
        d = b - a
        length = math.hypot(d.x(), d.y())
        if length < 4.0:
            return
        u = d / length
        n = QPointF(-u.y(), u.x())
        head = min(9.0, length * 0.5)
        tip = b - u * 2.0
        base = tip - u * head
        for pen in (QPen(QColor(0, 0, 0, 170), 3.6), QPen(colour, 1.6)):
            pen.setCapStyle(Qt.RoundCap)
            painter.setPen(pen)
            painter.drawLine(a, base)
        painter.setPen(QPen(QColor(0, 0, 0, 170), 1.0))
        painter.setBrush(colour)
        painter.drawPolygon(QPolygonF([tip, base + n * head * 0.45, base - n * head * 0.45]))


# --- the practice dock -------------------------------------------------------------------------------


def _table(headers: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(21)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def _cell(table: QTableWidget, row: int, col: int, text: str, passed: bool | None = None, tip: str = "",
          align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if passed is not None:
        item.setBackground(PASS_BG if passed else FAIL_BG)
    if tip:
        item.setToolTip(tip)
    if align_right:
        item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
    table.setItem(row, col, item)
    return item


class PracticePanel(QWidget):
    """The Practice dock: the key being practised and Submit; after submission, the error view."""

    def __init__(self, controller: "PracticeController", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        self.title = QLabel("No practice case open.")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.status = QLabel("Practice > Open teaching bank… to start.")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.submit_button = QPushButton("Submit attempt")
        self.submit_button.setToolTip("Score your landmarks against the expert's and keep the attempt")
        self.submit_button.clicked.connect(controller.submit)
        self.again_button = QPushButton("Try again")
        self.again_button.clicked.connect(controller.try_again)
        self.next_button = QPushButton("Next key…")
        self.next_button.clicked.connect(controller.next_key)
        self.progress_button = QPushButton("Progress…")
        self.progress_button.clicked.connect(controller.show_progress)
        for b in (self.submit_button, self.again_button, self.next_button, self.progress_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)

        self.review = QWidget()
        review = QVBoxLayout(self.review)
        review.setContentsMargins(0, 4, 0, 0)
        score_row = QHBoxLayout()
        self.score_label = QLabel()
        big = self.score_label.font()
        big.setPointSizeF(big.pointSizeF() * 2.0)
        big.setBold(True)
        self.score_label.setFont(big)
        score_row.addWidget(self.score_label)
        self.counts = QLabel()
        self.counts.setWordWrap(True)
        score_row.addWidget(self.counts, 1)
        review.addLayout(score_row)
        legend = QHBoxLayout()
        self.legend = QLabel(
            f"<span style='color:{YOURS.name()}'>━━</span> yours &nbsp; "
            f"<span style='color:{EXPERT.name()}'>━━ ◇</span> the expert's &nbsp; "
            f"<span style='color:{FAIL.darker(120).name()}'>→</span> your point to the expert's")
        self.legend.setWordWrap(True)
        legend.addWidget(self.legend, 1)
        self.show_expert = QCheckBox("Expert's analysis")
        self.show_expert.setToolTip("Show or hide the expert's lines, landmarks and the error arrows")
        self.show_expert.setChecked(True)
        self.show_expert.toggled.connect(controller.set_expert_visible)
        legend.addWidget(self.show_expert)
        review.addLayout(legend)
        self.diagnosis = QLabel()
        self.diagnosis.setWordWrap(True)
        self.diagnosis.setTextFormat(Qt.RichText)
        review.addWidget(self.diagnosis)
        self.tabs = QTabWidget()
        self.measurement_table = _table(("Measurement", "Yours", "Expert", "Error", "Band", "Result"))
        self.measurement_table.horizontalHeaderItem(3).setToolTip("Yours − the expert's")
        # the table fits the dock: the name column takes what is left (eliding, with the full name as
        # a tooltip) rather than pushing the result off to the right
        self.measurement_table.horizontalHeader().setStretchLastSection(False)
        self.measurement_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.measurement_table.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.landmark_table = _table(("Landmark", "Error", "Tolerance", "Result"))
        self.landmark_table.horizontalHeaderItem(1).setToolTip(
            "Distance from your point to the expert's. ⊥: a shaft mid-point, which may slide along the shaft: only "
            "the distance across the expert's shaft line counts")
        self.landmark_table.cellDoubleClicked.connect(self._centre_on_landmark)
        mat_page = QWidget()
        mat_layout = QVBoxLayout(mat_page)
        mat_layout.setContentsMargins(0, 0, 0, 0)
        self.mat_table = _table(("Class", "Yours", "Expert", "Result"))
        mat_layout.addWidget(self.mat_table, 1)
        self.mat_summary = QLabel()
        self.mat_summary.setWordWrap(True)
        mat_layout.addWidget(self.mat_summary)
        self.points = QLabel()
        self.points.setWordWrap(True)
        self.points.setTextFormat(Qt.RichText)
        self.points.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.points.setMargin(8)  # the text off the scroll area's frame
        points_scroll = QScrollArea()
        points_scroll.setWidget(self.points)
        points_scroll.setWidgetResizable(True)
        self.tabs.addTab(self.measurement_table, "Measurements")
        self.tabs.addTab(self.landmark_table, "Landmarks")
        self.tabs.addTab(mat_page, "Malalignment test")
        self.tabs.addTab(points_scroll, "Teaching points")
        review.addWidget(self.tabs, 1)
        layout.addWidget(self.review, 1)
        self.filler = QWidget()  # keeps the title, the instructions and the buttons together at the top
        layout.addWidget(self.filler, 1)
        self.end_button = QPushButton("End practice")
        self.end_button.clicked.connect(controller.end_session)
        end_row = QHBoxLayout()
        end_row.addStretch(1)
        end_row.addWidget(self.end_button)
        layout.addLayout(end_row)
        self.show_idle()

    # --- states ----------------------------------------------------------------------------------------
    def show_idle(self) -> None:
        self.title.setText("No practice case open.")
        self.status.setText("Practice > Open teaching bank… to start.")
        self.review.hide()
        self.filler.show()
        for b in (self.submit_button, self.again_button, self.next_button, self.end_button):
            b.setVisible(False)

    def show_session(self, heading: str, level: str = "") -> None:
        self.title.setText(heading)
        self.status.setText((f"Level: {level}. " if level else "")
                            + "Place the landmarks with the guided steps (Landmarks panel), as you would on a "
                            "patient's film, then press Submit. The expert's analysis, the diagnosis and the "
                            "teaching points appear only after you submit.")
        self.review.hide()
        self.filler.show()
        self.submit_button.setVisible(True)
        self.submit_button.setEnabled(True)
        self.again_button.setVisible(False)
        self.next_button.setVisible(False)
        self.end_button.setVisible(True)

    def show_review(self, heading: str, key: KeySummary, score: AttemptScore, record: AttemptRecord | None) -> None:
        self.title.setText(heading)
        saved = (f"Attempt kept in your history ({_when(record.submitted_at)})." if record is not None
                 else "The attempt could not be kept in your history.")
        self.status.setText(saved + " Double-click a landmark row to go to it.")
        self.submit_button.setVisible(False)
        self.again_button.setVisible(True)
        self.next_button.setVisible(True)
        self.end_button.setVisible(True)
        self.show_expert.setChecked(True)
        self.filler.hide()
        self.review.show()
        pct = score.score_pct
        self.score_label.setText("—" if pct is None else f"{pct:.1f} %")
        unit = score.unit
        self.counts.setText(
            f"<b>Score</b>: {score.measurements_passed} of {score.measurements_scored} measurements within their "
            f"bands and {score.mat_passed} of {score.mat_scored} malalignment tests right. "
            f"Landmarks within tolerance: {score.landmarks_passed} of {score.landmarks_scored} (they do not count in "
            "the score)."
            + ("" if unit == "mm" else f" <b>{_esc(UNCALIBRATED_NOTE)}</b>"))
        self.counts.setTextFormat(Qt.RichText)
        info = key.info
        self.diagnosis.setText(f"<b>{_esc(info.title)}</b> ({_esc(info.level)}). <b>Diagnosis</b>: "
                               f"{_esc(info.diagnosis) or '—'}")
        if info.teaching_points:
            self.points.setText("<ul style='margin-left:-20px'>" + "".join(
                f"<li style='margin-bottom:6px'>{_esc(p)}</li>" for p in info.teaching_points) + "</ul>"
                + (f"<p style='color:#666'>{_esc(info.author)}; {_esc(info.source)}</p>" if info.author else ""))
        else:
            self.points.setText("This key has no teaching points.")
        self._fill_measurements(score)
        self._fill_landmarks(score)
        self._fill_mat(score)
        self.tabs.setCurrentIndex(0)

    def _fill_measurements(self, score: AttemptScore) -> None:
        t = self.measurement_table
        rows = _sectioned((side, list(limb.measurements.values())) for side, limb in score.limbs.items())
        if score.case_measurements:
            rows += [BOTH_LIMBS, *score.case_measurements.values()]
        _reset(t, len(rows))
        for row, entry in enumerate(rows):
            if isinstance(entry, str):
                _section(t, row, entry)
                continue
            m = entry
            unit = unit_of(m.key)
            _cell(t, row, 0, short_measurement_name(m.key), tip=measurement_name(m.key))
            # a measurement the attempt cannot compute fails (practice.md): say why in its own cell
            yours = "not measured" if m.attempt is None else value_text(m.key, m.attempt, short=True)
            _cell(t, row, 1, yours, tip=m.reason or value_text(m.key, m.attempt), align_right=True)
            _cell(t, row, 2, value_text(m.key, m.expected, short=True), tip=value_text(m.key, m.expected),
                  align_right=True)
            _cell(t, row, 3, _number(m.error, unit, signed=True), align_right=True)
            _cell(t, row, 4, "±" + _number(m.band, unit), align_right=True)
            _cell(t, row, 5, "✓ pass" if m.passed else "✗ fail", m.passed, tip=m.reason)

    def _fill_landmarks(self, score: AttemptScore) -> None:
        t = self.landmark_table
        rows = _sectioned((side, [(side, s) for s in limb.landmarks.values()]) for side, limb in score.limbs.items())
        _reset(t, len(rows))
        for row, entry in enumerate(rows):
            if isinstance(entry, Side):
                _section(t, row, entry)
                continue
            side, s = entry
            _cell(t, row, 0, landmark_label(s.name),
                  tip="Only the distance across the expert's shaft line counts" if s.perpendicular_only else ""
                  ).setData(Qt.UserRole, (str(side), s.name))
            _cell(t, row, 1, _number(s.error, score.unit) + (" ⊥" if s.perpendicular_only else ""), align_right=True)
            _cell(t, row, 2, "≤ " + _number(s.tolerance, score.unit), align_right=True)
            _cell(t, row, 3, "✓ pass" if s.passed else ("✗ not placed" if not s.placed else "✗ fail"), s.passed)

    def _fill_mat(self, score: AttemptScore) -> None:
        t = self.mat_table
        groups = []
        summaries = []
        for side, limb in score.limbs.items():
            mat = limb.mat
            if mat is None:
                continue
            groups.append((side, [(c, mat.attempt.get(c, "unknown"), mat.expected.get(c, "unknown"),
                                   mat.class_passed(c)) for c in MAT_SHOWN if c in mat.attempt or c in mat.expected]))
            verdict = "same verdict" if mat.passed else "a different verdict"
            summaries.append(f"<b>{Side(side).label}</b> ({verdict}). Yours: {_esc(mat.attempt_summary) or '—'}"
                             f"<br>Expert's: {_esc(mat.key_summary) or '—'}")
        rows = _sectioned(groups)
        _reset(t, len(rows))
        for row, entry in enumerate(rows):
            if isinstance(entry, Side):
                _section(t, row, entry)
                continue
            c, mine, theirs, passed = entry
            _cell(t, row, 0, c)
            _cell(t, row, 1, mine)
            _cell(t, row, 2, theirs)
            _cell(t, row, 3, "not scored" if passed is None else ("✓ same" if passed else "✗ differs"), passed)
        self.mat_summary.setTextFormat(Qt.RichText)
        self.mat_summary.setText("<br><br>".join(summaries) or "The key has no malalignment test verdict.")

    def _centre_on_landmark(self, row: int, _col: int) -> None:
        item = self.landmark_table.item(row, 0)
        data = item.data(Qt.UserRole) if item is not None else None
        if data:
            self.controller.centre_on(Side(data[0]), data[1])

    def landmark_row(self, side: Side, name: str) -> dict[str, str]:
        """The cells of one landmark's row, by column header (for tests and scripts)."""
        t = self.landmark_table
        for row in range(t.rowCount()):
            if t.item(row, 0) is not None and t.item(row, 0).data(Qt.UserRole) == (str(side), name):
                return {t.horizontalHeaderItem(c).text(): t.item(row, c).text() for c in range(t.columnCount())}
        return {}


def _sectioned(groups) -> list:
    """Rows of a table grouped by limb: the limb (a section row), then its entries."""
    rows: list = []
    for side, entries in groups:
        if entries:
            rows.append(Side(side))
            rows.extend(entries)
    return rows


def _reset(table: QTableWidget, rows: int) -> None:
    table.clearSpans()
    table.setRowCount(0)
    table.setRowCount(rows)


def _section(table: QTableWidget, row: int, side: Side | str) -> None:
    item = QTableWidgetItem(f"{side.label} limb" if isinstance(side, Side) else side)
    font = item.font()
    font.setBold(True)
    item.setFont(font)
    item.setBackground(SECTION_BG)
    item.setFlags(Qt.ItemIsEnabled)
    table.setItem(row, 0, item)
    table.setSpan(row, 0, 1, table.columnCount())


def _esc(text: str) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- progress: charts drawn with QPainter --------------------------------------------------------------


class ScoreChart(QWidget):
    """The score of each attempt, oldest first (attempts equally spaced), 0 to 100 %."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[SeriesPoint] = []
        self.setMinimumSize(360, 220)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def set_points(self, points: Sequence[SeriesPoint]) -> None:
        self.points = list(points)
        self.setToolTip("\n".join(f"{_when(p.when)}  {p.key_title}: {p.value:.1f} %" for p in self.points[-15:]))
        self.update()

    @guarded
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing, True)
        p.fillRect(self.rect(), CHART_BG)
        metrics = QFontMetricsF(p.font())
        bold = QFont(p.font())
        bold.setBold(True)
        p.setFont(bold)
        p.setPen(CHART_TEXT)
        p.drawText(QRectF(10, 6, self.width() - 20, 20), Qt.AlignLeft | Qt.AlignVCenter, "Score per attempt")
        p.setFont(self.font())
        left, right, top, bottom = 44.0, 18.0, 34.0, 40.0
        plot = QRectF(left, top, max(self.width() - left - right, 10), max(self.height() - top - bottom, 10))
        for pct in (0, 25, 50, 75, 100):
            y = plot.bottom() - pct / 100 * plot.height()
            p.setPen(QPen(CHART_GRID, 1))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(CHART_TEXT)
            p.drawText(QRectF(0, y - 9, left - 6, 18), Qt.AlignRight | Qt.AlignVCenter, f"{pct} %")
        p.setPen(QPen(CHART_TEXT, 1.2))
        p.drawLine(plot.bottomLeft(), plot.topLeft())
        p.drawLine(plot.bottomLeft(), plot.bottomRight())
        if not self.points:
            p.drawText(plot, Qt.AlignCenter, "No attempt submitted yet.")
            p.end()
            return
        n = len(self.points)

        def x_of(i: int) -> float:
            return plot.left() + (plot.width() / 2 if n == 1 else 12 + i * (plot.width() - 24) / (n - 1))

        xy = [QPointF(x_of(i), plot.bottom() - max(0.0, min(100.0, pt.value)) / 100 * plot.height())
              for i, pt in enumerate(self.points)]
        if n > 1:
            p.setPen(QPen(CHART_LINE, 2.0))
            p.drawPolyline(QPolygonF(xy))
        for pt, c in zip(self.points, xy):
            p.setPen(QPen(QColor(255, 255, 255), 1.5))
            p.setBrush(CHART_LINE)
            p.drawEllipse(c, 4.5, 4.5)
        last = xy[-1]
        p.setPen(CHART_LINE)
        p.setFont(bold)
        text = f"{self.points[-1].value:.0f} %"
        w = metrics.horizontalAdvance(text) + 10
        p.drawText(QRectF(min(last.x() - w / 2, plot.right() - w), last.y() - 26, w, 18), Qt.AlignCenter, text)
        p.setFont(self.font())
        # x labels: the date under as many attempts as fit without overlapping
        p.setPen(CHART_TEXT)
        right_edge = -math.inf
        for i, pt in enumerate(self.points):
            label = pt.when.astimezone().strftime("%d %b")
            w = metrics.horizontalAdvance(label) + 12
            x = x_of(i)
            if x - w / 2 < right_edge:
                continue
            p.drawLine(QPointF(x, plot.bottom()), QPointF(x, plot.bottom() + 4))
            p.drawText(QRectF(x - w / 2, plot.bottom() + 5, w, 16), Qt.AlignCenter, label)
            right_edge = x + w / 2
        p.drawText(QRectF(plot.left(), plot.bottom() + 20, plot.width(), 16), Qt.AlignCenter,
                   f"attempt (oldest first, {n} in all)")
        p.end()


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    ratio: float  # mean |error| / band (or tolerance); 1 is the edge of the band
    text: str  # e.g. "2.3° · 40 % passed"
    tip: str = ""


class BarChart(QWidget):
    """Horizontal bars of mean |error| in units of each item's band (a dashed line marks the band),
    worst first, so what keeps going wrong is at the top."""

    ROW = 19.0

    def __init__(self, title: str, band_word: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.band_word = band_word
        self.bars: list[Bar] = []
        self.setMinimumWidth(360)

    def set_bars(self, bars: Sequence[Bar]) -> None:
        self.bars = sorted(bars, key=lambda b: -b.ratio if math.isfinite(b.ratio) else 1.0)
        self.setMinimumHeight(int(56 + self.ROW * max(len(self.bars), 1) + 24))
        self.setToolTip("\n".join(b.tip for b in self.bars if b.tip))
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(460, int(56 + self.ROW * max(len(self.bars), 1) + 24))

    @guarded
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing, True)
        p.fillRect(self.rect(), CHART_BG)
        metrics = QFontMetricsF(p.font())
        bold = QFont(p.font())
        bold.setBold(True)
        p.setFont(bold)
        p.setPen(CHART_TEXT)
        p.drawText(QRectF(10, 6, self.width() - 20, 20), Qt.AlignLeft | Qt.AlignVCenter, self.title)
        p.setFont(self.font())
        if not self.bars:
            p.drawText(QRectF(0, 30, self.width(), 40), Qt.AlignCenter, "No errors recorded yet.")
            p.end()
            return
        label_w = min(max(metrics.horizontalAdvance(b.label) for b in self.bars) + 12, self.width() * 0.4)
        text_w = max(metrics.horizontalAdvance(b.text) for b in self.bars) + 12
        top = 34.0
        x0 = label_w + 4
        width = max(self.width() - x0 - text_w - 10, 40)
        finite = [b.ratio for b in self.bars if math.isfinite(b.ratio)]
        scale_max = max(2.0, math.ceil(max(finite, default=1.0) * 2) / 2)
        for k in range(int(scale_max * 2) + 1):
            v = k / 2
            x = x0 + v / scale_max * width
            p.setPen(QPen(CHART_GRID, 1))
            p.drawLine(QPointF(x, top - 4), QPointF(x, top + self.ROW * len(self.bars)))
        band_x = x0 + 1.0 / scale_max * width
        bottom = top + self.ROW * len(self.bars)
        p.setPen(QPen(QColor(90, 90, 100), 1.4, Qt.DashLine))
        p.drawLine(QPointF(band_x, top - 6), QPointF(band_x, bottom + 2))
        for i, b in enumerate(self.bars):
            y = top + i * self.ROW
            p.setPen(CHART_TEXT)
            p.drawText(QRectF(0, y, label_w, self.ROW), Qt.AlignRight | Qt.AlignVCenter,
                       metrics.elidedText(b.label, Qt.ElideRight, label_w - 4))
            if math.isfinite(b.ratio):
                length = min(b.ratio, scale_max) / scale_max * width
                colour = PASS.darker(125) if b.ratio <= 1.0 else (QColor(235, 160, 40) if b.ratio <= 1.5 else
                                                                   FAIL.darker(115))
                p.setPen(Qt.NoPen)
                p.setBrush(colour)
                p.drawRoundedRect(QRectF(x0, y + 4, max(length, 1.5), self.ROW - 8), 2, 2)
                end = x0 + length
            else:
                end = x0
            box = QRectF(end + 4, y + 2, metrics.horizontalAdvance(b.text) + 6, self.ROW - 4)
            p.fillRect(box, CHART_BG)  # legible over the grid and the band line
            p.setPen(CHART_TEXT)
            p.drawText(box.adjusted(2, -2, 0, 2), Qt.AlignLeft | Qt.AlignVCenter, b.text)
        p.setPen(CHART_TEXT)
        for k in range(int(scale_max) + 1):
            x = x0 + k / scale_max * width
            text = "0" if k == 0 else (f"{self.band_word}" if k == 1 else f"{k} ×")
            p.drawText(QRectF(x - 40, bottom + 4, 80, 16), Qt.AlignCenter, text)
        p.end()


def measurement_bars(summaries: dict[str, ErrorSummary]) -> list[Bar]:
    rules = default_rules()
    bars = []
    for key, s in summaries.items():
        band = rules.band(key)
        if band is None or s.n == 0:
            continue
        unit = unit_of(key)
        text = f"{_number(s.mean_abs, unit)} · {s.passed_fraction * 100:.0f} % passed"
        bars.append(Bar(measurement_name(key), s.mean_abs / band, text,
                        f"{measurement_name(key)}: mean |error| {_number(s.mean_abs, unit)} over {s.n} "
                        f"(band ±{_number(band, unit)}); {s.passed_fraction * 100:.0f} % of {s.scored} passed"))
    return bars


def landmark_bars(summaries: dict[str, ErrorSummary]) -> list[Bar]:
    rules = default_rules()
    bars = []
    for name, s in summaries.items():
        if s.n == 0:
            continue
        tol = rules.tolerance(name)
        text = f"{_number(s.mean_abs, 'mm')} · {s.passed_fraction * 100:.0f} % passed"
        bars.append(Bar(landmark_label(name), s.mean_abs / tol, text,
                        f"{landmark_label(name)}: mean error {_number(s.mean_abs, 'mm')} over {s.n} (tolerance "
                        f"{_number(tol, 'mm')}); {s.passed_fraction * 100:.0f} % of {s.scored} within it"))
    return bars


class ProgressView(QDialog):
    """The practice history: score over time, mean errors per measurement and per landmark, the attempts."""

    def __init__(self, controller: "PracticeController", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("Practice progress")
        self.records: list[AttemptRecord] = []
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Keys:"))
        self.key_filter = QComboBox()
        self.key_filter.currentIndexChanged.connect(self._show)
        top.addWidget(self.key_filter)
        self.summary = QLabel()
        top.addWidget(self.summary, 1)
        self.export_button = QPushButton("Export history as CSV…")
        self.export_button.clicked.connect(lambda: controller.export_csv(self.shown_records()))
        top.addWidget(self.export_button)
        layout.addLayout(top)
        grid = QGridLayout()
        self.score_chart = ScoreChart()
        grid.addWidget(self.score_chart, 0, 0)
        self.table = _table(("Submitted", "Key", "Score", "Landmarks in tolerance", "Time"))
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        grid.addWidget(self.table, 0, 1)
        self.measurement_chart = BarChart("Mean absolute error per measurement (worst first)", "band")
        self.landmark_chart = BarChart("Mean landmark error, absolute (worst first)", "tolerance")
        for col, chart in enumerate((self.measurement_chart, self.landmark_chart)):
            scroll = QScrollArea()
            scroll.setWidget(chart)
            scroll.setWidgetResizable(True)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
            scroll.setFrameShape(QScrollArea.NoFrame)
            grid.addWidget(scroll, 1, col)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(0, 4)
        grid.setRowStretch(1, 5)
        layout.addLayout(grid, 1)
        note = QLabel("Bars: mean error divided by the measurement's band (or the landmark's tolerance); the dashed "
                      "line is the band's edge. Landmark errors come from calibrated keys only.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #555")
        layout.addWidget(note)
        close = QDialogButtonBox(QDialogButtonBox.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)
        self.resize(1240, 860)

    def set_records(self, records: Sequence[AttemptRecord]) -> None:
        self.records = list(records)
        current = self.key_filter.currentData()
        self.key_filter.blockSignals(True)
        self.key_filter.clear()
        self.key_filter.addItem("All keys", "")
        titles: dict[str, str] = {}
        for r in self.records:
            titles.setdefault(r.key_id, r.key_title or r.key_id)
        for key_id, title in sorted(titles.items(), key=lambda kv: kv[1].lower()):
            self.key_filter.addItem(title, key_id)
        index = self.key_filter.findData(current) if current else 0
        self.key_filter.setCurrentIndex(max(index, 0))
        self.key_filter.blockSignals(False)
        self._show()

    def shown_records(self) -> list[AttemptRecord]:
        key_id = self.key_filter.currentData()
        return [r for r in self.records if not key_id or r.key_id == key_id]

    def _show(self) -> None:
        records = self.shown_records()
        series = score_series(records)
        self.score_chart.set_points(series)
        self.measurement_chart.set_bars(measurement_bars(mean_errors(records, "measurement")))
        self.landmark_chart.set_bars(landmark_bars(mean_errors(records, "landmark")))
        if series:
            recent = [p.value for p in series[-5:]]
            self.summary.setText(f"{len(records)} attempts; mean of the last {len(recent)}: "
                                 f"{sum(recent) / len(recent):.0f} %")
        else:
            self.summary.setText("No attempt submitted yet.")
        t = self.table
        t.setRowCount(len(records))
        for row, r in enumerate(reversed(records)):  # newest first
            lp, ls = r.score.get("landmarks_passed"), r.score.get("landmarks_scored")
            _cell(t, row, 0, _when(r.submitted_at))
            _cell(t, row, 1, r.key_title or r.key_id)
            _cell(t, row, 2, "—" if r.score_pct is None else f"{r.score_pct:.1f} %", align_right=True)
            _cell(t, row, 3, f"{lp} of {ls}" if isinstance(ls, int) else "—", align_right=True)
            _cell(t, row, 4, "—" if r.seconds is None else f"{r.seconds / 60:.0f} min", align_right=True)
        self.export_button.setEnabled(bool(records))


# --- saving a case as a key ----------------------------------------------------------------------------


class SaveKeyDialog(QDialog):
    """Title, level, diagnosis, teaching points and the folder of a new teaching key."""

    def __init__(self, folder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save the case as a teaching key")
        form = QFormLayout(self)
        self.title = QLineEdit()
        self.title.setPlaceholderText("e.g. Proximal tibial varus")
        form.addRow("Title:", self.title)
        self.level = QComboBox()
        for level in LEVELS:
            self.level.addItem(level.capitalize(), level)
        form.addRow("Level:", self.level)
        self.diagnosis = QPlainTextEdit()
        self.diagnosis.setPlaceholderText("The diagnosis a fellow should reach (shown after the attempt)")
        self.diagnosis.setFixedHeight(60)
        form.addRow("Diagnosis:", self.diagnosis)
        self.points = QPlainTextEdit()
        self.points.setPlaceholderText("One teaching point per line")
        self.points.setFixedHeight(100)
        form.addRow("Teaching points:", self.points)
        self.author = QLineEdit()
        form.addRow("Author:", self.author)
        row = QHBoxLayout()
        self.folder = QLineEdit(folder)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("Key folder:", row)
        note = QLabel("The film is copied with the patient's name, ID, birth date, accession number and the other "
                      "identifying elements removed, and new UIDs; the case keeps its landmarks and calibration only.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #555")
        form.addRow(note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.title.textChanged.connect(self._update)
        self.folder.textChanged.connect(self._update)
        self._update()
        self.resize(560, 420)

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Folder of the teaching keys", self.folder.text())
        if chosen:
            self.folder.setText(chosen)

    def _update(self) -> None:
        self.buttons.button(QDialogButtonBox.Save).setEnabled(bool(self.title.text().strip()
                                                                   and self.folder.text().strip()))

    def key_info(self) -> KeyInfo:
        points = tuple(p.strip(" -•\t") for p in self.points.toPlainText().splitlines() if p.strip(" -•\t"))
        return KeyInfo(title=self.title.text().strip(), level=self.level.currentData(),
                       diagnosis=" ".join(self.diagnosis.toPlainText().split()), teaching_points=points,
                       author=self.author.text().strip(), source="saved from a case in deformity-app")


# --- the controller ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Session:
    """One key being practised. `key` never reaches the document or the scene before submission."""

    summary: KeySummary
    key: Case
    film: Path  # the neutrally named copy the window opens
    attempt: Case  # the blank attempt the film opens with
    heading: str  # what the dock calls the key before submission ("Key 4" unless its title may be shown)
    started: float = 0.0
    submitted: Case | None = None
    score: AttemptScore | None = None
    record: AttemptRecord | None = None


class PracticeController(QObject):
    """Practice mode on top of the main window: the Practice menu and dock, sessions and the error view."""

    submitted = Signal(object)  # AttemptScore

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.bank_folder: Path | None = None  # None: the shipped bank in the user's cache folder
        self.bank_spacing_mm = DEFAULT_SPACING_MM
        self.history_folder: Path | None = None  # None: practice_store.attempts_dir()
        self.practice_dir: Path | None = None  # where the neutral film copies go (None: user cache)
        self.session: Session | None = None
        self._pending: Session | None = None
        self._last_folder: Path | None = None
        self.chooser: KeyChooser | None = None
        self.progress_view: ProgressView | None = None
        self.save_key_dialog: SaveKeyDialog | None = None
        self.study_view = None
        self.bank_task: BackgroundTask | None = None
        self.last_saved_key = None  # teaching_bank.SavedKey of the last "Save current case as teaching key"

        self.panel = PracticePanel(self)
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # the tables scroll, not the whole panel
        scroll.setMinimumWidth(540)
        self.dock = window._dock("Practice", scroll, Qt.RightDockWidgetArea)
        window.tabifyDockWidget(window.measure_dock, self.dock)
        self.dock.hide()

        # the expert's lines wider and below the fellow's: where both agree, a blue line edged in magenta
        self.expert_overlay = TintedOverlayItem(EXPERT, width=2.6)
        self.expert_overlay.setZValue(10.5)
        self.your_overlay = TintedOverlayItem(YOURS, width=1.3)
        self.arrows_item = ErrorArrowsItem()
        self._review_items: tuple[QGraphicsItem, ...] = (self.your_overlay, self.expert_overlay, self.arrows_item)

        self._build_menu()
        window.filmLoaded.connect(self._on_film_loaded)
        window.filmFailed.connect(self._on_film_failed)
        window.doc.changed.connect(self._on_doc_changed)
        for action in getattr(window, "layer_actions", {}).values():
            action.toggled.connect(self._sync_layers)
        self._update_actions()

    # --- menu ------------------------------------------------------------------------------------------
    def _build_menu(self) -> None:
        bar = self.window.menuBar()
        self.menu = bar.addMenu("&Practice")
        help_action = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
        if help_action is not None:  # keep Help last
            bar.removeAction(self.menu.menuAction())
            bar.insertMenu(help_action, self.menu)

        def add(text: str, slot, shortcut: str | None = None) -> QAction:
            action = QAction(text, self.window)
            if shortcut:
                action.setShortcut(shortcut)
            action.triggered.connect(lambda _=False: slot())
            self.menu.addAction(action)
            return action

        self.open_bank_action = add("Open &teaching bank…", self.open_bank)
        self.open_folder_action = add("Open a &clinic's bank folder…", self.open_clinic_folder)
        self.menu.addSeparator()
        self.submit_action = add("&Submit attempt", self.submit, "Ctrl+Shift+Return")
        self.menu.addSeparator()
        self.progress_action = add("&Progress…", self.show_progress)
        self.export_action = add("&Export history as CSV…", lambda: self.export_csv(None))
        self.menu.addSeparator()
        self.save_key_action = add("Save current case as teaching &key…", self.save_as_key)
        self.agreement_action = add("&Agreement study…", self.open_agreement_study)

    def _update_actions(self) -> None:
        s = self.session
        self.submit_action.setEnabled(s is not None and s.score is None)

    # --- the bank ------------------------------------------------------------------------------------------
    def open_bank(self) -> None:
        """Make sure the shipped bank exists (drawn off the GUI thread the first time), then choose a key."""
        folder = self.bank_folder or default_bank_dir()
        spacing = self.bank_spacing_mm
        if self.bank_task is not None:
            return  # already being drawn
        dialog = QProgressDialog("Preparing the teaching bank…", "Cancel", 0, 0, self.window)
        dialog.setWindowTitle("Teaching bank")
        dialog.setWindowModality(Qt.WindowModal)
        dialog.setMinimumDuration(400)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)

        def progress(done: int, total: int, name: str) -> None:
            dialog.setMaximum(total)
            dialog.setValue(done)
            if name:  # the count only: the keys' titles would name the deformities before they are practised
                dialog.setLabelText(f"Drawing the teaching films (first time only): {done + 1} of {total}…")

        def done(result: Any, error: str, cancelled: bool) -> None:
            self.bank_task = None
            dialog.reset()
            dialog.close()
            dialog.deleteLater()
            if cancelled:
                self.window.statusBar().showMessage("Preparing the teaching bank was cancelled.", 5000)
            elif error:
                self.window.show_error(f"The teaching bank cannot be prepared: {error}")
            else:
                self.choose_key(Path(result))

        self.bank_task = run_in_background(lambda report: ensure_bank(folder, spacing, report), done, progress)
        dialog.canceled.connect(self.bank_task.cancel)

    def open_clinic_folder(self) -> None:
        start = str(self.window.settings.value("practice/clinic_folder", "") or Path.home())
        folder = QFileDialog.getExistingDirectory(self.window, "A folder of teaching keys", start)
        if folder:
            self.window.settings.setValue("practice/clinic_folder", folder)
            self.choose_key(Path(folder))

    def _history(self) -> list[AttemptRecord]:
        try:
            return load_history(self.history_folder)
        except OSError as exc:
            log.warning("the practice history cannot be read: %s", exc)
            return []

    def choose_key(self, folder: Path) -> KeyChooser | None:
        """Show the keys of `folder` to choose one (the dialog opens without blocking; see `chooser`)."""
        if self.chooser is not None and self.chooser.isVisible():
            self.chooser.raise_()
            return self.chooser
        keys = list_keys(folder)
        if not keys:
            self.window.show_error(f"No teaching key was found in {folder}: a key is a case file with a 'key' "
                                   "object (Practice > Save current case as teaching key… writes one).")
            return None
        self._last_folder = Path(folder)
        show_titles = str(self.window.settings.value("practice/show_titles", "false")).lower() == "true"
        chooser = KeyChooser(keys, self._history(), show_titles, self.window)
        self.chooser = chooser

        def finished(result: int) -> None:
            self.window.settings.setValue("practice/show_titles",
                                          "true" if chooser.show_titles.isChecked() else "false")
            if result == QDialog.Accepted and chooser.chosen is not None:
                heading = chooser.title_of(chooser.chosen)
                self.start(chooser.chosen, heading)
            chooser.deleteLater()
            if self.chooser is chooser:
                self.chooser = None

        chooser.finished.connect(finished)
        chooser.open()
        return chooser

    def next_key(self) -> None:
        if self._last_folder is not None:
            self.choose_key(self._last_folder)
        else:
            self.open_bank()

    def try_again(self) -> None:
        s = self.session
        if s is not None:  # once submitted, the title is no secret any more
            self.start(s.summary, s.summary.title if s.score is not None else s.heading)

    # --- a session -------------------------------------------------------------------------------------
    def _film_copy(self, film: Path, key_path: Path) -> Path:
        """A neutrally named copy of the key's film (a hard link where possible): a clinic's key files are
        named after their titles, and the window shows the film's name in its title and recent files."""
        folder = self.practice_dir
        if folder is None:
            from ..paths import user_dir

            folder = user_dir("cache") / "practice"
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(str(key_path.resolve()).encode("utf-8")).hexdigest()[:8]
        target = folder / f"{PRACTICE_FILM_PREFIX}{digest}{film.suffix.lower()}"
        current = self.window.doc.film_path
        for old in folder.glob(f"{PRACTICE_FILM_PREFIX}*"):
            if old != target and (current is None or old.resolve() != current.resolve()):
                try:
                    old.unlink()
                except OSError:
                    pass
        if target.exists():
            if target.stat().st_size == film.stat().st_size and target.stat().st_mtime >= film.stat().st_mtime:
                return target
            target.unlink()
        try:
            os.link(film, target)
        except OSError:
            shutil.copyfile(film, target)
        return target

    def start(self, summary: KeySummary, heading: str | None = None) -> None:
        """Open a key's film with a blank attempt; the dock calls it `heading` (by default a neutral
        name: the key's title may name its deformity) until the attempt is submitted."""
        if not self._may_leave():
            return
        try:
            key, summary = read_key(summary.path)
        except Exception as exc:  # noqa: BLE001 - CaseError, TeachingBankError: a sentence for the user
            self.window.show_error(f"The key cannot be read: {exc}")
            return
        if summary.film_path is None or not summary.film_path.is_file():
            self.window.show_error("The film of this key was not found next to its case file.")
            return
        if not any(limb.landmarks for limb in key.limbs.values()):
            self.window.show_error("This key has no landmarks to compare with.")
            return
        try:
            film = self._film_copy(summary.film_path, summary.path)
        except OSError as exc:
            self.window.show_error(f"The key's film cannot be prepared for practice: {exc.strerror or exc}")
            return
        attempt = blank_attempt(key)
        attempt.image["path"] = str(film)
        self._pending = Session(summary, key, film, attempt, heading or NEUTRAL_HEADING)
        in_session = self.session is not None
        if in_session:
            self.window.doc.undo_stack.setClean()  # _may_leave asked already
        self.window.open_film(film, attempt, None, ask=not in_session)

    def _may_leave(self) -> bool:
        s = self.session
        if s is None or s.score is not None or not any(l.landmarks for l in self.window.doc.case.limbs.values()):
            return True
        answer = QMessageBox.question(self.window, "Practice", "Your attempt on this key is not submitted. Leave it "
                                      "without scoring?", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def _on_film_loaded(self) -> None:
        pending, self._pending = self._pending, None
        doc = self.window.doc
        if pending is not None and doc.film_path is not None and doc.film_path == pending.film:
            self._clear_review()
            self.session = pending
            pending.started = time.monotonic()
            sides = tuple(s for s in (Side.RIGHT, Side.LEFT) if s in pending.key.limbs
                          and pending.key.limbs[s].landmarks)
            choice = {(Side.RIGHT, Side.LEFT): 0, (Side.RIGHT,): 1, (Side.LEFT,): 2}.get(sides, 0)
            combo = self.window.steps_panel.sides
            if combo.currentIndex() != choice:
                combo.setCurrentIndex(choice)
            self.panel.show_session(pending.heading, pending.summary.level)
            self.dock.show()
            self.dock.raise_()
            self.window.statusBar().showMessage("Practice: place the landmarks, then Practice > Submit attempt.", 8000)
        elif self.session is not None:
            self.end_session()  # another film was opened: the practice is over
        self._update_actions()

    def _on_film_failed(self, _message: str) -> None:
        self._pending = None

    def _on_doc_changed(self) -> None:
        s = self.session
        if s is not None and s.submitted is not None and self.panel.review.isVisible():
            moved = _landmarks(self.window.doc.case) != _landmarks(s.submitted)
            if moved:
                self.panel.status.setText("You changed landmarks after submitting: the review shows the submitted "
                                          "attempt. Try again to score a new one.")

    def submit(self) -> AttemptScore | None:
        """Score the attempt, keep it in the history and show the error view."""
        s = self.session
        if s is None or s.score is not None:
            return None
        attempt = self.window.doc.case.copy()
        placed = sum(len(l.landmarks) for l in attempt.limbs.values())
        wanted = sum(len(l.landmarks) for l in s.key.limbs.values())
        if placed == 0:
            self.window.show_error("Place the landmarks first: nothing to score yet.")
            return None
        if placed < wanted:
            answer = QMessageBox.question(
                self.window, "Submit the attempt",
                f"{wanted - placed} of the key's {wanted} landmarks are not placed; the measurements that need them "
                "count as failed. Submit anyway?", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                return None
        try:
            score = score_attempt(attempt, s.key)
        except ScoringError as exc:
            self.window.show_error(f"The attempt cannot be scored: {exc}")
            return None
        record = None
        try:
            record = save_attempt(attempt, s.key, score, key_path=s.summary.path,
                                  seconds=round(time.monotonic() - s.started, 1), folder=self.history_folder)
        except OSError as exc:
            self.window.show_error(f"The attempt was scored but could not be kept in your history: "
                                   f"{exc.strerror or exc}")
        s.submitted, s.score, s.record = attempt, score, record
        self.window.doc.undo_stack.setClean()  # the attempt is kept: leaving it needs no question
        self._show_review()
        self._update_actions()
        pct = "—" if score.score_pct is None else f"{score.score_pct:.1f} %"
        self.window.statusBar().showMessage(f"Practice: attempt scored {pct}. The expert's analysis is shown in "
                                            "magenta.", 10000)
        if self.progress_view is not None and self.progress_view.isVisible():
            self.progress_view.set_records(self._history())
        self.submitted.emit(score)
        return score

    def _show_review(self) -> None:
        s = self.session
        if s is None or s.score is None or s.submitted is None:
            return
        rows = int(s.key.image.get("rows") or 0)
        cols = int(s.key.image.get("columns") or 0)
        rect = QRectF(-0.5, -0.5, cols, rows)
        self.expert_overlay.set_overlay(build_overlay(s.key, s.score.key_result), rect)
        mine = on_key_film(s.submitted, s.key)
        self.your_overlay.set_overlay(build_overlay(mine, s.score.attempt_result), rect)
        self.arrows_item.set_arrows(error_arrows(s.submitted, s.key, s.score), rect)
        scene = self.window.scene
        for item in self._review_items:
            if item.scene() is None:
                scene.addItem(item)
        self._sync_layers()
        self.window.overlay_item.setVisible(False)  # yours is drawn in one colour beside the expert's
        self.panel.show_review(s.summary.title, s.summary, s.score, s.record)
        self.dock.show()
        self.dock.raise_()

    def set_expert_visible(self, on: bool) -> None:
        self.expert_overlay.setVisible(on)
        self.arrows_item.setVisible(on)

    def _sync_layers(self, *_args) -> None:
        layers = set(self.window.overlay_item.layers)
        actions = getattr(self.window, "layer_actions", None)
        if actions:
            layers = {layer for layer, a in actions.items() if a.isChecked()}
        self.expert_overlay.set_layers(layers)
        self.your_overlay.set_layers(layers)

    def _clear_review(self) -> None:
        for item in self._review_items:
            if item.scene() is not None:
                item.scene().removeItem(item)
        self.window.overlay_item.setVisible(True)

    def end_session(self) -> None:
        self._clear_review()
        self.session = None
        self._pending = None
        self.panel.show_idle()
        self.dock.hide()
        self._update_actions()

    def centre_on(self, side: Side, name: str) -> None:
        s = self.session
        if s is None or s.score is None:
            return  # before submission the expert's points are not shown anywhere
        point = s.key.limbs.get(side).landmarks.get(name) if side in s.key.limbs else None
        if point is not None:
            view = self.window.view
            if view.zoom() < 1.0:
                view.set_zoom(2.0)
            view.centerOn(QPointF(*point))

    # --- progress and history --------------------------------------------------------------------------
    def show_progress(self) -> ProgressView:
        if self.progress_view is None:
            self.progress_view = ProgressView(self, self.window)
        self.progress_view.set_records(self._history())
        self.progress_view.show()
        self.progress_view.raise_()
        return self.progress_view

    def export_csv(self, records: Sequence[AttemptRecord] | None = None) -> Path | None:
        records = list(records) if records is not None else self._history()
        if not records:
            self.window.show_error("There is no attempt to export yet.")
            return None
        suggestion = Path(str(self.window.settings.value("last_dir", str(Path.home())))) / "practice-history.csv"
        path, _ = QFileDialog.getSaveFileName(self.window, "Export the practice history", str(suggestion), CSV_FILTER)
        if not path:
            return None
        out = Path(path if path.lower().endswith(".csv") else path + ".csv")
        try:
            export_history_csv(records, out)
        except OSError as exc:
            self.window.show_error(f"The history could not be written to {out}: {exc.strerror or exc}")
            return None
        self.window.statusBar().showMessage(f"Practice history exported to {out.name} ({len(records)} attempts)",
                                            6000)
        return out

    # --- keys and studies ------------------------------------------------------------------------------
    def save_as_key(self) -> SaveKeyDialog | None:
        doc = self.window.doc
        if doc.radiograph is None or doc.film_path is None:
            self.window.show_error("Open a film and place its landmarks first: a key is a measured case.")
            return None
        if self.session is not None:
            self.window.show_error("This is a practice attempt: open the case you measured to save it as a key.")
            return None
        if not any(l.landmarks for l in doc.case.limbs.values()):
            self.window.show_error("The case has no landmarks: there is nothing to learn from.")
            return None
        dialog = SaveKeyDialog(str(self.window.settings.value("practice/key_folder", "") or ""), self.window)
        self.save_key_dialog = dialog

        def finished(result: int) -> None:
            if self.save_key_dialog is dialog:
                self.save_key_dialog = None
            dialog.deleteLater()
            if result != QDialog.Accepted:
                return
            folder = Path(dialog.folder.text().strip())
            try:
                saved = save_as_key(doc.case, doc.film_path, folder, dialog.key_info(), anonymise=True)
            except TeachingBankError as exc:
                self.window.show_error(f"The key could not be saved: {exc}")
                return
            self.window.settings.setValue("practice/key_folder", str(folder))
            text = f"Saved the teaching key {saved.case_path.name} with its anonymised film {saved.film_path.name}."
            if saved.warnings:
                QMessageBox.information(self.window, "Teaching key saved", text + "\n\n" + "\n".join(saved.warnings))
            self.window.statusBar().showMessage(text, 8000)
            self.last_saved_key = saved

        dialog.finished.connect(finished)
        dialog.open()
        return dialog

    def open_agreement_study(self, folder: Path | None = None):
        from .study_view import StudyView

        if self.study_view is None:
            self.study_view = StudyView(self.window.settings, self.window)
        self.study_view.show()
        self.study_view.raise_()
        if folder is not None:
            self.study_view.load(Path(folder))
        elif self.study_view.result is None:
            self.study_view.choose_folder()
        return self.study_view


def _landmarks(case: Case) -> dict[str, dict[str, tuple[float, float]]]:
    return {str(side): dict(limb.landmarks) for side, limb in case.limbs.items()}


def install_practice(window) -> PracticeController:
    """Add practice mode to the main window: the Practice menu, its dock and its scene items.

    Installing twice returns the controller already there (one Practice menu, one dock)."""
    existing = getattr(window, "practice", None)
    if isinstance(existing, PracticeController):
        return existing
    controller = PracticeController(window)
    window.practice = controller
    return controller


__all__ = [
    "BackgroundTask",
    "BarChart",
    "ErrorArrow",
    "ErrorArrowsItem",
    "KeyChooser",
    "PracticeController",
    "PracticePanel",
    "ProgressView",
    "SaveKeyDialog",
    "ScoreChart",
    "TintedOverlayItem",
    "attempts_of",
    "error_arrows",
    "install_practice",
    "run_in_background",
]
