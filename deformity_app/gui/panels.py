"""Side panels: the guided landmark steps and the measurements of each limb."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from measurements.landmarks import LANDMARK_NAMES, Side
from measurements.measure import CaseResult
from measurements.present import (
    DESCRIPTIONS,
    LABELS,
    TABLE_KEYS,
    calibration_text,
    flag_text,
    format_value,
    normal_short,
    normal_text,
)

from .document import CaseDocument
from .guard import guarded
from .workflow import Step, Workflow, missing_for_measurements

ABNORMAL_BG = QColor(255, 215, 215)

# A normal right limb in the leg frame (mm; lat, sup) from the worked case of measurements.md, used
# to draw the schematic that shows where each landmark is.
_SCHEMATIC = {
    "femoral_head_center": (22.5, 429.4), "femoral_head_top": (22.5, 452.4),
    "greater_trochanter_tip": (82.4, 426.3), "femoral_neck_midpoint": (50.0, 412.0),
    "femoral_shaft_proximal_mid": (45.0, 300.0), "femoral_shaft_distal_mid": (20.0, 110.0),
    "femoral_condyle_medial": (-35.0, 0.0), "femoral_condyle_lateral": (35.0, 0.0), "knee_center": (0.0, 0.0),
    "tibial_plateau_medial": (-35.0, -1.0), "tibial_plateau_lateral": (35.0, -1.0),
    "tibial_shaft_proximal_mid": (-5.0, -110.0), "tibial_shaft_distal_mid": (-15.0, -280.0),
    "plafond_medial": (-34.4, -369.0), "plafond_lateral": (-4.4, -370.0), "ankle_center": (-19.4, -369.5),
}


class Schematic(QWidget):
    """A small drawing of a limb with the current landmark highlighted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.step: Step | None = None
        self.setMinimumSize(120, 200)

    def set_step(self, step: Step | None) -> None:
        self.step = step
        self.update()

    @guarded
    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), QColor(30, 30, 34))
        w, h = self.width(), self.height()
        scale = min(w / 240.0, (h - 16) / 880.0)
        mirror = -1.0 if (self.step is None or self.step.side is Side.RIGHT) else 1.0

        def to_px(pt: tuple[float, float]) -> QPointF:
            lat, sup = pt
            return QPointF(w / 2 + mirror * lat * scale, 8 + h / 2 - (sup - 40.0) * scale)

        s = _SCHEMATIC
        bone_colour = QColor(205, 205, 200)
        p.setBrush(bone_colour)
        p.setPen(Qt.NoPen)
        p.drawEllipse(to_px(s["femoral_head_center"]), 23 * scale, 23 * scale)
        thick = QPen(bone_colour, max(2.0, 22.0 * scale), Qt.SolidLine, Qt.RoundCap)
        p.setPen(thick)
        for a, b in (("femoral_head_center", "femoral_neck_midpoint"), ("femoral_neck_midpoint", "femoral_shaft_proximal_mid"),
                     ("greater_trochanter_tip", "femoral_shaft_proximal_mid"),
                     ("femoral_shaft_proximal_mid", "femoral_shaft_distal_mid"),
                     ("tibial_shaft_proximal_mid", "tibial_shaft_distal_mid")):
            p.drawLine(to_px(s[a]), to_px(s[b]))
        p.drawLine(to_px(s["femoral_shaft_distal_mid"]), to_px((0.0, 30.0)))
        p.setPen(QPen(bone_colour, max(2.0, 34.0 * scale), Qt.SolidLine, Qt.RoundCap))
        for a, b in (("femoral_condyle_medial", "femoral_condyle_lateral"),):
            p.drawLine(to_px((s[a][0] + 8, s[a][1] + 14)), to_px((s[b][0] - 8, s[b][1] + 14)))
        p.setPen(QPen(bone_colour, max(2.0, 30.0 * scale), Qt.SolidLine, Qt.RoundCap))
        p.drawLine(to_px((-28.0, -16.0)), to_px((28.0, -16.0)))
        p.drawLine(to_px((-10.0, -30.0)), to_px((-8.0, -90.0)))
        p.setPen(QPen(bone_colour, max(2.0, 20.0 * scale), Qt.SolidLine, Qt.RoundCap))
        p.drawLine(to_px((-26.0, -352.0)), to_px((-12.0, -352.0)))
        p.setPen(QPen(QColor(150, 150, 145), max(1.0, 8.0 * scale), Qt.SolidLine, Qt.RoundCap))
        p.drawLine(to_px((38.0, -25.0)), to_px((8.0, -365.0)))  # fibula, lateral
        p.setPen(QPen(QColor(60, 60, 60), 1))
        p.setBrush(QColor(90, 90, 90))
        for name in LANDMARK_NAMES:
            p.drawEllipse(to_px(s[name]), 2.0, 2.0)
        if self.step is not None:
            p.setPen(QPen(QColor(255, 80, 80), 2))
            p.setBrush(Qt.NoBrush)
            c = to_px(s[self.step.name])
            p.drawEllipse(c, 7, 7)
            p.drawLine(c + QPointF(-11, 0), c + QPointF(11, 0))
            p.drawLine(c + QPointF(0, -11), c + QPointF(0, 11))
        p.setPen(QColor(220, 220, 220))
        p.setFont(QFont(p.font().family(), 8))
        p.drawText(QRectF(4, 2, w - 8, 16), Qt.AlignLeft, "lateral" if mirror < 0 else "medial")
        p.drawText(QRectF(4, 2, w - 8, 16), Qt.AlignRight, "medial" if mirror < 0 else "lateral")
        p.end()


class StepsPanel(QWidget):
    """The guided workflow: the prompt of the current step, a schematic, and the list of steps."""

    sidesChanged = Signal(tuple)
    stepChosen = Signal(object)  # Step
    backRequested = Signal()
    skipRequested = Signal()
    headToolRequested = Signal()

    SIDE_CHOICES = (("Both limbs", (Side.RIGHT, Side.LEFT)), ("Right limb", (Side.RIGHT,)), ("Left limb", (Side.LEFT,)))

    def __init__(self, doc: CaseDocument, workflow: Workflow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc, self.workflow = doc, workflow
        layout = QVBoxLayout(self)
        self.sides = QComboBox()
        for text, _sides in self.SIDE_CHOICES:
            self.sides.addItem(text)
        self.sides.currentIndexChanged.connect(lambda i: self.sidesChanged.emit(self.SIDE_CHOICES[i][1]))
        layout.addWidget(self.sides)
        self.prompt = QLabel()
        self.prompt.setWordWrap(True)
        font = self.prompt.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.prompt.setFont(font)
        self.prompt.setMinimumHeight(48)
        layout.addWidget(self.prompt)
        row = QHBoxLayout()
        self.schematic = Schematic()
        row.addWidget(self.schematic, 1)
        buttons = QVBoxLayout()
        self.back_button = QPushButton("◀ Back")
        self.skip_button = QPushButton("Skip ▶")
        self.head_button = QPushButton("Head from\ncontour…")
        self.head_button.setToolTip("Click three or more points on the femoral head's contour; the centre of the "
                                    "best-fit circle becomes the femoral head centre")
        for b in (self.back_button, self.skip_button, self.head_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        row.addLayout(buttons)
        layout.addLayout(row)
        self.back_button.clicked.connect(self.backRequested)
        self.skip_button.clicked.connect(self.skipRequested)
        self.head_button.clicked.connect(self.headToolRequested)
        self.list = QListWidget()
        self.list.itemClicked.connect(self._clicked)
        layout.addWidget(self.list, 1)
        self.missing = QLabel()
        self.missing.setWordWrap(True)
        self.missing.setTextFormat(Qt.RichText)
        layout.addWidget(self.missing)
        self.refresh()

    def _clicked(self, item: QListWidgetItem) -> None:
        step = item.data(Qt.UserRole)
        if step is not None:
            self.stepChosen.emit(step)

    def refresh(self) -> None:
        case = self.doc.case
        current = self.workflow.current
        # a drag moves a landmark but changes neither what is placed nor the step: nothing to redo
        state = (current, tuple(self.workflow.sides),
                 tuple(sorted((str(side), name) for side, limb in case.limbs.items() for name in limb.landmarks)))
        if state == getattr(self, "_state", None):
            return
        self._state = state
        self.prompt.setText((current.prompt + ".") if current else "All landmarks are placed.")
        self.schematic.set_step(current)
        self.head_button.setEnabled(current is not None)
        self.list.blockSignals(True)
        self.list.clear()
        for step in self.workflow.steps:
            done = self.workflow.is_done(case, step)
            item = QListWidgetItem(("✔ " if done else "○ ") + step.title)
            item.setData(Qt.UserRole, step)
            if step == current:
                f = item.font()
                f.setBold(True)
                item.setFont(f)
                item.setBackground(QColor(60, 110, 180))
                item.setForeground(QColor(255, 255, 255))
            self.list.addItem(item)
            if step == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        parts = []
        for side in self.workflow.sides:
            limb = case.limbs.get(side)
            placed = len([n for n in LANDMARK_NAMES if limb and n in limb.landmarks])
            missing = missing_for_measurements(case, side)
            if not missing:
                parts.append(f"<b>{side.label}</b>: {placed}/16 placed; every measurement is computed.")
                continue
            # name what is nearly there (one or two landmarks away); count the rest
            close = [f"{key} ({', '.join(m.lower() for m in names)})" for key, names in missing.items() if len(names) <= 2]
            text = f"<b>{side.label}</b>: {placed}/16 placed; {len(missing)} measurements wait for landmarks"
            if close:
                text += ". Next to complete: " + "; ".join(close[:5]) + ("…" if len(close) > 5 else "")
            parts.append(text + ".")
        self.missing.setText("<br>".join(parts))


class MeasurementPanel(QWidget):
    """Both limbs side by side: value, normal range and flag; the MAT sentences; LLD; calibration."""

    HEADERS = ("Measurement", "Right", "Left", "Normal")
    SIDE_COLUMNS = {Side.RIGHT: 1, Side.LEFT: 2}
    ARROWS = {"LOW": " ▼", "HIGH": " ▲"}

    def __init__(self, doc: CaseDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        layout = QVBoxLayout(self)
        self.calibration = QLabel()
        self.calibration.setWordWrap(True)
        layout.addWidget(self.calibration)
        table = QTableWidget(len(TABLE_KEYS), len(self.HEADERS))
        table.setHorizontalHeaderLabels(self.HEADERS)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(22)
        table.setEditTriggers(QTableWidget.NoEditTriggers)
        table.setSelectionMode(QTableWidget.NoSelection)
        table.setWordWrap(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        for row, key in enumerate(TABLE_KEYS):
            item = QTableWidgetItem(LABELS[key])
            item.setToolTip(DESCRIPTIONS.get(key, ""))
            table.setItem(row, 0, item)
            normal = QTableWidgetItem(normal_short(key))
            normal.setToolTip(normal_text(key))
            normal.setForeground(QColor(90, 90, 90))
            table.setItem(row, 3, normal)
        table.setMinimumHeight(22 * len(TABLE_KEYS) + 30)
        table.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.table = table
        layout.addWidget(table)
        self.mat: dict[Side, QLabel] = {}
        for side in (Side.RIGHT, Side.LEFT):
            mat = QLabel()
            mat.setWordWrap(True)
            mat.setTextInteractionFlags(Qt.TextSelectableByMouse)
            layout.addWidget(mat)
            self.mat[side] = mat
        self.lld = QLabel()
        layout.addWidget(self.lld)
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #b00000;")
        layout.addWidget(self.warnings)
        note = QLabel("Angles to 0.1°, lengths to 1 mm; readers differ by about 1.1–1.4° and 3.3 mm "
                      "(smaller differences are within observer error).")
        note.setWordWrap(True)
        note.setStyleSheet("color: gray;")
        layout.addWidget(note)
        layout.addStretch(1)

    def refresh(self, result: CaseResult | None = None) -> None:
        doc = self.doc
        result = result or doc.result
        case = doc.case
        caveat = str(case.calibration_extra.get("caveat", ""))
        self.calibration.setText("<b>Calibration:</b> " + calibration_text(
            result.calibration_source, result.pixel_spacing_mm, caveat if case.calibrated else ""))
        warnings: list[str] = list(result.warnings)
        # Each item setter tells the view, and the ResizeToContents header then re-measures every
        # row (~0.5 ms a call, several calls a cell): set the cells quietly and tell the view once.
        model = self.table.model()
        was_blocked = model.blockSignals(True)
        changed = False
        try:
            for side, column in self.SIDE_COLUMNS.items():
                limb = result.limbs.get(side)
                for row, key in enumerate(TABLE_KEYS):
                    value = format_value(key, limb) if limb else ""
                    reason = (limb.unavailable.get(key, "") if limb else "no landmarks on this limb")
                    flag = flag_text(key, limb) if (limb and value) else ""
                    changed |= self._set_cell(row, column, value, flag, reason, key)
        finally:
            model.blockSignals(was_blocked)
        if changed:
            model.dataChanged.emit(model.index(0, 0), model.index(model.rowCount() - 1, model.columnCount() - 1))
        for side in self.SIDE_COLUMNS:
            limb = result.limbs.get(side)
            self.mat[side].setText(f"<b>{side.label} MAT:</b> {limb.mat.get('summary', '')}" if limb else "")
            self.mat[side].setVisible(limb is not None)
            if limb:
                warnings += [f"{side.label}: {w}" for w in limb.warnings]
        if result.lld_mm is not None:
            lld = result.lld_mm
            side_txt = "" if round(lld) == 0 else f" ({'right' if lld > 0 else 'left'} longer)"
            self.lld.setText(f"<b>LLD:</b> {abs(lld):.0f} mm{side_txt}")
        elif result.lld_px is not None:
            lld = result.lld_px
            side_txt = "" if round(lld) == 0 else f" ({'right' if lld > 0 else 'left'} longer)"
            self.lld.setText(f"<b>LLD:</b> {abs(lld):.0f} px{side_txt}, uncalibrated")
        else:
            self.lld.setText(f"<b>LLD:</b> — ({result.unavailable.get('lld_mm', 'not available')})")
        self.warnings.setText("<br>".join(warnings))
        self.warnings.setVisible(bool(warnings))

    def _set_cell(self, row: int, column: int, value: str, flag: str, reason: str, key: str) -> bool:
        """Update one value cell in place (creating table items on every drag step costs ~17 ms);
        True when it changed."""
        item = self.table.item(row, column)
        if item is None:
            item = QTableWidgetItem()
            item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.table.setItem(row, column, item)
        state = (value, flag, reason)
        if item.data(Qt.UserRole + 1) == state:
            return False
        item.setData(Qt.UserRole + 1, state)
        item.setData(Qt.UserRole, value)
        item.setText((value + self.ARROWS.get(flag, "")) if value else "—")
        font = item.font()
        font.setBold(bool(flag))
        item.setFont(font)
        if not value:
            item.setToolTip(reason)
            item.setForeground(QColor(150, 150, 150))
            item.setBackground(QBrush())
        elif flag:
            item.setToolTip(f"{flag.lower()}: outside the normal range {normal_text(key)}")
            item.setBackground(QBrush(ABNORMAL_BG))
            item.setForeground(QColor(170, 0, 0))
        else:
            item.setToolTip("")
            item.setBackground(QBrush())
            item.setForeground(QBrush())
        return True

    def value_text(self, side: Side, key: str) -> str:
        """The value shown for `side` and `key` without the flag arrow ("" when unavailable)."""
        item = self.table.item(TABLE_KEYS.index(key), self.SIDE_COLUMNS[side])
        return str(item.data(Qt.UserRole) or "") if item else ""

    def flag_shown(self, side: Side, key: str) -> bool:
        item = self.table.item(TABLE_KEYS.index(key), self.SIDE_COLUMNS[side])
        return bool(item and item.text().endswith(tuple(self.ARROWS.values())))
