"""Planning mode: each bone's CORA over the film, osteotomy plans with a draggable hinge, the distal
fragment of the film moving with the plan, predicted values beside the current ones, and growth.

A view of the case like the rest of the GUI: plans, reference angles and the patient live in the
case (`limbs.<side>.plans`, `limbs.<side>.reference_deg`, `patient`), and every edit is a command
on the one undo stack. The numbers come from measurements.planning.
"""
from __future__ import annotations

import copy
import math
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF, QTransform
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGraphicsItem,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from measurements.case import Case
from measurements.growth import GrowthError, multiplier
from measurements.landmarks import Side
from measurements.planning import (
    Bone,
    Cora,
    PlanUnavailable,
    Simulation,
    find_cora,
    fragment_band_px,
    reference_angles,
    simulate,
    wbl_pct,
)
from measurements.present import LABELS, format_value, normal_short

from .document import CaseDocument, new_gesture_id
from .guard import guarded
from .scene_items import device_transform

REFERENCE_KEYS = ("mlpfa_deg", "mldfa_deg", "mpta_deg", "ldta_deg")
PREDICTED_KEYS = ("mad_mm", "wbl_pct", "mfta_deg", "hka_deg", "mlpfa_deg", "mldfa_deg", "mpta_deg", "ldta_deg",
                  "jlca_deg", "limb_length_mm")
AXIS_COLOUR = QColor(255, 90, 220)
PREDICTED_COLOUR = QColor(90, 255, 120)
CUT_COLOUR = QColor(255, 160, 40)
SNAP_SCREEN_PX = 12.0
FRAGMENT_BAND_MM = 45.0  # half-width of the default clip band around the bone below the cut


def limb_plans(case: Case, side: Side) -> list[dict[str, Any]]:
    limb = case.limbs.get(side)
    plans = limb.extra.get("plans") if limb else None
    return [dict(p) for p in plans] if isinstance(plans, list) else []


def _safe_cora(case: Case, side: Side, bone: Bone) -> Cora | None:
    try:
        return find_cora(case, side, bone)
    except Exception:  # noqa: BLE001 - missing landmarks or degenerate geometry: nothing to draw
        return None


def _safe_simulation(case: Case, side: Side, plan: dict[str, Any], cora: Cora | None = None
                     ) -> tuple[Simulation | None, str]:
    try:
        return simulate(case, side, plan, cora=cora), ""
    except PlanUnavailable as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a plan in progress may be malformed; say why, do not crash
        return None, str(exc)


def _line_through_rect(point: tuple[float, float], direction: tuple[float, float], length: float) -> QPolygonF:
    px, py = point
    dx, dy = direction
    n = math.hypot(dx, dy) or 1.0
    dx, dy = dx / n * length, dy / n * length
    return QPolygonF([QPointF(px - dx, py - dy), QPointF(px + dx, py + dy)])


def fragment_polygon(case: Case, side: Side, plan: dict[str, Any], band_mm: float = FRAGMENT_BAND_MM) -> QPolygonF:
    """The part of the film that moves with the distal fragment (measurements.planning.fragment_band_px)."""
    return QPolygonF([QPointF(x, y) for x, y in fragment_band_px(case, side, plan, band_mm)])


class FragmentItem(QGraphicsItem):
    """The distal fragment's part of the film, drawn where the plan moves it."""

    def __init__(self, renderer) -> None:
        super().__init__()
        self.renderer = renderer
        self.polygon = QPolygonF()
        self.setZValue(2)  # above the film, below the overlays
        self.setAcceptedMouseButtons(Qt.NoButton)
        self._cached = None

    def set_fragment(self, polygon: QPolygonF, matrix: tuple | None) -> None:
        same_picture = polygon == self.polygon
        if not same_picture:
            self.prepareGeometryChange()
            self.polygon = polygon
        if matrix is None:
            self.setTransform(QTransform())
            self.setVisible(False)
            return
        (a, b, tx), (c, d, ty) = matrix
        self.setTransform(QTransform(a, c, b, d, tx, ty))  # Qt repaints where it was and where it goes
        self.setVisible(not polygon.isEmpty())
        if not same_picture:
            self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self.polygon.boundingRect()

    @guarded
    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self.polygon.isEmpty():
            return
        path = QPainterPath()
        path.addPolygon(self.polygon)
        painter.save()
        painter.setClipPath(path)
        t = painter.worldTransform()
        scale = math.hypot(t.m11(), t.m12())
        exposed = option.exposedRect.intersected(self.polygon.boundingRect())
        # window the whole fragment once (its bounding rect as the "visible" part): while the hinge is
        # dragged the exposed part shifts every step, and each step would window a new region
        self._cached = self.renderer.paint(painter, exposed, scale, self.polygon.boundingRect(), self._cached)
        painter.restore()
        pen = QPen(CUT_COLOUR, 1.2, Qt.DashLine)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawPolygon(self.polygon)


class ShadeItem(QGraphicsItem):
    """Darkens where the fragment was, under the moved fragment, so the opening or overlap shows."""

    def __init__(self) -> None:
        super().__init__()
        self.polygon = QPolygonF()
        self.setZValue(1)
        self.setAcceptedMouseButtons(Qt.NoButton)

    def set_polygon(self, polygon: QPolygonF) -> None:
        self.prepareGeometryChange()
        self.polygon = polygon
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self.polygon.boundingRect()

    @guarded
    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not self.polygon.isEmpty():
            painter.setPen(Qt.NoPen)
            painter.setBrush(QBrush(QColor(0, 0, 0, 170)))
            painter.drawPolygon(self.polygon)


class PlanningOverlay(QGraphicsItem):
    """CORA construction lines of both bones of one limb, the cut, and the predicted axis."""

    def __init__(self) -> None:
        super().__init__()
        self.coras: list[Cora] = []
        self.cut: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.predicted_axis: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.original_region = QPolygonF()
        self.labels: list[tuple[tuple[float, float], str, QColor]] = []
        self._rect = QRectF()
        self._construction: tuple | None = None  # what the CORA lines and the cut were drawn from
        self.setZValue(12)
        self.setAcceptedMouseButtons(Qt.NoButton)
        self.font = QFont()
        self.font.setPointSizeF(9.5)
        self.font.setBold(True)
        self.length_px = 3000.0

    def set_data(self, coras, cut, predicted_axis, original_region, labels, rect: QRectF, length_px: float) -> None:
        """Show these. While a hinge is dragged only the predicted axis and its label change: only
        they are repainted (repainting the whole view each step cost ~10 ms at fit)."""
        new_rect = rect.adjusted(-rect.width(), -rect.height() * 0.2, rect.width(), rect.height() * 0.2)
        construction = (_cora_signature(coras), cut, float(length_px))
        device = device_transform(self)
        if new_rect != self._rect or construction != self._construction or device is None:
            self.prepareGeometryChange()
            self.coras, self.cut, self.predicted_axis = coras, cut, predicted_axis
            self.original_region, self.labels = original_region, labels
            self._rect, self.length_px, self._construction = new_rect, length_px, construction
            self.update()
            return
        dirty: list[QRectF] = []
        if predicted_axis != self.predicted_axis:
            pad = 6.0 / max(abs(device.m11()) + abs(device.m12()), 1e-9)
            for axis in (self.predicted_axis, predicted_axis):
                if axis is not None:
                    dirty.append(QPolygonF([QPointF(*axis[0]), QPointF(*axis[1])]).boundingRect()
                                 .adjusted(-pad, -pad, pad, pad))
        old_labels = {_label_key(label): label for label in self.labels}
        new_labels = {_label_key(label): label for label in labels}
        inverse, _ok = device.inverted()
        for key in old_labels.keys() ^ new_labels.keys():
            label = old_labels.get(key) or new_labels[key]
            dirty.append(inverse.mapRect(self._label_box(device.map(QPointF(*label[0])), label[1])
                                         .adjusted(-2, -2, 2, 2)))
        self.coras, self.predicted_axis = coras, predicted_axis
        self.original_region, self.labels = original_region, labels
        for area in dirty:
            self.update(area)

    def _label_box(self, anchor: QPointF, text: str) -> QRectF:
        """Where a label's box goes on screen (viewport pixels): to the right of its anchor."""
        box = QFontMetricsF(self.font).boundingRect(text).adjusted(-4, -2, 4, 2)
        box.moveTopLeft(QPointF(anchor.x() + 10, anchor.y() - box.height() / 2))
        return box

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect

    @guarded
    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.Antialiasing, True)
        for cora in self.coras:
            pen = QPen(AXIS_COLOUR, 1.4, Qt.DashLine)
            pen.setCosmetic(True)
            painter.setPen(pen)
            for line in (cora.proximal_axis_px, cora.distal_axis_px):
                painter.drawPolyline(_line_through_rect(line.point_px, line.direction_px, self.length_px))
            if cora.cora_px is not None:
                if cora.bisector_px is not None:
                    pen = QPen(AXIS_COLOUR, 1.0, Qt.DotLine)
                    pen.setCosmetic(True)
                    painter.setPen(pen)
                    painter.drawPolyline(_line_through_rect(cora.bisector_px.point_px, cora.bisector_px.direction_px,
                                                            self.length_px * 0.05))
                scale = painter.worldTransform().m11() or 1.0
                r = 7.0 / abs(scale)
                painter.setPen(QPen(AXIS_COLOUR, 2.0 / abs(scale)))
                painter.setBrush(Qt.NoBrush)
                painter.drawEllipse(QPointF(*cora.cora_px), r, r)
        if self.cut is not None:
            pen = QPen(CUT_COLOUR, 2.2)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLine(QPointF(*self.cut[0]), QPointF(*self.cut[1]))
        if self.predicted_axis is not None:
            pen = QPen(PREDICTED_COLOUR, 2.0, Qt.DashDotLine)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLine(QPointF(*self.predicted_axis[0]), QPointF(*self.predicted_axis[1]))
        transform = painter.worldTransform()
        painter.save()
        painter.resetTransform()
        painter.setFont(self.font)
        for (x, y), text, colour in self.labels:
            box = self._label_box(transform.map(QPointF(x, y)), text)
            painter.setPen(Qt.NoPen)
            painter.setBrush(QBrush(QColor(0, 0, 0, 175)))
            painter.drawRoundedRect(box, 3, 3)
            painter.setPen(colour)
            painter.drawText(box, Qt.AlignCenter, text)
        painter.restore()


def _cora_signature(coras: list[Cora]) -> tuple:
    """What the overlay draws of each CORA, as plain numbers (compared between updates)."""
    def line(l) -> tuple | None:
        return None if l is None else (tuple(map(float, l.point_px)), tuple(map(float, l.direction_px)))

    return tuple((line(c.proximal_axis_px), line(c.distal_axis_px), line(c.bisector_px),
                  None if c.cora_px is None else tuple(map(float, c.cora_px))) for c in coras)


def _label_key(label: tuple) -> tuple:
    (x, y), text, colour = label
    return (float(x), float(y), text, colour.rgba())


class HingeItem(QGraphicsItem):
    """The osteotomy hinge: drag it; it snaps to the bisector line and to the cut's ends."""

    RADIUS = 8.0

    def __init__(self, controller: "PlanningController") -> None:
        super().__init__()
        self.controller = controller
        self.setFlags(QGraphicsItem.ItemIgnoresTransformations)
        self.setZValue(25)
        self.setCursor(Qt.SizeAllCursor)
        self.setToolTip("Osteotomy hinge: drag it (snaps to the bisector line and the cut's ends)")
        self._gesture = 0
        self._offset = QPointF()

    def boundingRect(self) -> QRectF:  # noqa: N802
        r = self.RADIUS + 3
        return QRectF(-r, -r, 2 * r, 2 * r)

    @guarded
    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.Antialiasing, True)
        painter.setPen(QPen(QColor(0, 0, 0), 3.0))
        painter.drawRect(QRectF(-self.RADIUS, -self.RADIUS, 2 * self.RADIUS, 2 * self.RADIUS))
        painter.setPen(QPen(CUT_COLOUR, 2.0))
        painter.setBrush(QColor(255, 160, 40, 80))
        painter.drawRect(QRectF(-self.RADIUS, -self.RADIUS, 2 * self.RADIUS, 2 * self.RADIUS))
        painter.drawLine(QPointF(-3, 0), QPointF(3, 0))
        painter.drawLine(QPointF(0, -3), QPointF(0, 3))

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() != Qt.LeftButton:
            event.ignore()
            return
        self._gesture = new_gesture_id()
        self._offset = self.pos() - event.scenePos()
        self.controller.window.overlay_item.hold(True)  # the measurements do not change while it moves
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._gesture:
            p = event.scenePos() + self._offset
            self.controller.move_hinge((p.x(), p.y()), self._gesture)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._gesture = 0
        self.controller.window.overlay_item.hold(False)
        event.accept()


class PlanningPanel(QWidget):
    """The planning dock: limb, reference angles, CORAs, plans and their predicted values, growth."""

    newPlanRequested = Signal()

    def __init__(self, controller: "PlanningController", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Limb:"))
        self.side = QComboBox()
        self.side.addItem("Right", Side.RIGHT)
        self.side.addItem("Left", Side.LEFT)
        top.addWidget(self.side, 1)
        layout.addLayout(top)

        refs = QGroupBox("Reference joint angles")
        grid = QGridLayout(refs)
        self.ref_spins: dict[str, QDoubleSpinBox] = {}
        self.ref_sources: dict[str, QLabel] = {}
        for row, key in enumerate(REFERENCE_KEYS):
            spin = QDoubleSpinBox()
            spin.setRange(60.0, 120.0)
            spin.setDecimals(1)
            spin.setSuffix("°")
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(lambda value, key=key: controller.set_reference(key, value))
            source = QLabel()
            source.setStyleSheet("color: gray;")
            grid.addWidget(QLabel(LABELS[key]), row, 0)
            grid.addWidget(spin, row, 1)
            grid.addWidget(source, row, 2)
            self.ref_spins[key], self.ref_sources[key] = spin, source
        layout.addWidget(refs)

        self.cora_text = QLabel()
        self.cora_text.setWordWrap(True)
        self.cora_text.setTextFormat(Qt.RichText)
        layout.addWidget(self.cora_text)

        plans = QGroupBox("Osteotomy plan")
        form = QVBoxLayout(plans)
        row = QHBoxLayout()
        self.plan_choice = QComboBox()
        self.new_plan = QPushButton("New plan (draw the cut)…")
        self.delete_plan = QPushButton("Delete")
        row.addWidget(self.plan_choice, 1)
        row.addWidget(self.new_plan)
        row.addWidget(self.delete_plan)
        form.addLayout(row)
        fields = QFormLayout()
        self.plan_name = QLineEdit()
        fields.addRow("Name", self.plan_name)
        self.bone = QComboBox()
        self.bone.addItem("Tibia", Bone.TIBIA)
        self.bone.addItem("Femur", Bone.FEMUR)
        fields.addRow("Bone", self.bone)
        form.addLayout(fields)
        modes = QGridLayout()
        self.mode_group = QButtonGroup(self)
        self.mode_angle = QRadioButton("Angle")
        self.mode_mad = QRadioButton("Target MAD (mm)")
        self.mode_wbl = QRadioButton("Target WBL (%)")
        for i, b in enumerate((self.mode_angle, self.mode_mad, self.mode_wbl)):
            self.mode_group.addButton(b, i)
        self.angle = QDoubleSpinBox()
        self.angle.setRange(-45.0, 45.0)
        self.angle.setDecimals(1)
        self.angle.setSuffix("° (valgus +)")
        self.angle.setKeyboardTracking(False)
        self.target_mad = QDoubleSpinBox()
        self.target_mad.setRange(-60.0, 60.0)
        self.target_mad.setDecimals(1)
        self.target_mad.setKeyboardTracking(False)
        self.target_wbl = QDoubleSpinBox()
        self.target_wbl.setRange(0.0, 100.0)
        self.target_wbl.setDecimals(1)
        self.target_wbl.setValue(62.5)
        self.target_wbl.setKeyboardTracking(False)
        self.fujisawa = QPushButton("62.5 % (Fujisawa)")
        modes.addWidget(self.mode_angle, 0, 0)
        modes.addWidget(self.angle, 0, 1)
        modes.addWidget(self.mode_mad, 1, 0)
        modes.addWidget(self.target_mad, 1, 1)
        modes.addWidget(self.mode_wbl, 2, 0)
        modes.addWidget(self.target_wbl, 2, 1)
        modes.addWidget(self.fujisawa, 2, 2)
        form.addLayout(modes)
        self.translation = QDoubleSpinBox()
        self.translation.setRange(-50.0, 50.0)
        self.translation.setDecimals(1)
        self.translation.setSuffix(" mm along the cut")
        self.translation.setKeyboardTracking(False)
        trow = QFormLayout()
        trow.addRow("Shift", self.translation)
        form.addLayout(trow)
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.outcome.setTextFormat(Qt.RichText)
        form.addWidget(self.outcome)
        self.table = QTableWidget(len(PREDICTED_KEYS), 4)
        self.table.setHorizontalHeaderLabels(("Measurement", "Current", "Predicted", "Normal"))
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(22 * len(PREDICTED_KEYS) + 30)
        form.addWidget(self.table)
        layout.addWidget(plans)

        growth = QGroupBox("Growth (multiplier method)")
        gform = QFormLayout(growth)
        self.sex = QComboBox()
        self.sex.addItem("—", None)
        self.sex.addItem("Male", "male")
        self.sex.addItem("Female", "female")
        self.age = QDoubleSpinBox()
        self.age.setRange(0.0, 99.0)
        self.age.setDecimals(2)
        self.age.setSuffix(" years")
        self.age.setSpecialValueText("—")
        self.age.setKeyboardTracking(False)
        self.growth_text = QLabel()
        self.growth_text.setWordWrap(True)
        gform.addRow("Sex", self.sex)
        gform.addRow("Age", self.age)
        gform.addRow(self.growth_text)
        layout.addWidget(growth)
        layout.addStretch(1)

        self.side.currentIndexChanged.connect(lambda _i: controller.refresh())
        self.new_plan.clicked.connect(self.newPlanRequested)
        self.delete_plan.clicked.connect(controller.delete_plan)
        self.plan_choice.currentIndexChanged.connect(lambda _i: controller.refresh())
        self.plan_name.editingFinished.connect(lambda: controller.edit_plan(name=self.plan_name.text().strip()))
        self.bone.currentIndexChanged.connect(lambda _i: controller.edit_plan(bone=str(self.bone.currentData())))
        self.mode_group.idClicked.connect(lambda _i: controller.apply_mode())
        self.angle.valueChanged.connect(lambda _v: controller.apply_mode())
        self.target_mad.valueChanged.connect(lambda _v: controller.apply_mode())
        self.target_wbl.valueChanged.connect(lambda _v: controller.apply_mode())
        self.fujisawa.clicked.connect(lambda: (self.mode_wbl.setChecked(True), self.target_wbl.setValue(62.5),
                                               controller.apply_mode()))
        self.translation.valueChanged.connect(lambda v: controller.edit_plan(translation_mm=float(v)))
        self.sex.currentIndexChanged.connect(lambda _i: controller.set_patient())
        self.age.valueChanged.connect(lambda _v: controller.set_patient())

    @property
    def current_side(self) -> Side:
        return Side(self.side.currentData())


class PlanningController:
    """Keeps the planning panel and scene items in step with the case; turns gestures into commands."""

    def __init__(self, window) -> None:
        self.window = window
        self.doc: CaseDocument = window.doc
        self.panel = PlanningPanel(self)
        self.fragment = FragmentItem(window.view.renderer)
        self.overlay = PlanningOverlay()
        self.hinge = HingeItem(self)
        self.shade = ShadeItem()
        for item in (self.shade, self.fragment, self.overlay, self.hinge):
            window.scene.addItem(item)
        self.active = False
        self._updating = False
        self.last_simulation: Simulation | None = None
        self._cora_cache: tuple[Any, dict[Bone, Cora | None]] | None = None
        self.set_active(False)

    # --- state ---------------------------------------------------------------------------------------
    @property
    def side(self) -> Side:
        return self.panel.current_side

    def plan_index(self) -> int:
        return self.panel.plan_choice.currentIndex()

    def current_plan(self) -> dict[str, Any] | None:
        plans = limb_plans(self.doc.case, self.side)
        i = self.plan_index()
        return plans[i] if 0 <= i < len(plans) else None

    def set_active(self, active: bool) -> None:
        self.active = active
        for item in (self.shade, self.fragment, self.overlay, self.hinge):
            item.setVisible(active)
        if active:
            self.refresh()

    def cora(self, bone: Bone) -> Cora | None:
        """The bone's CORA, recomputed only when landmarks or reference angles change (not while a
        hinge is dragged, which changes neither)."""
        case, side = self.doc.case, self.side
        key = (side, tuple((str(s), tuple(sorted(limb.landmarks.items())), repr(limb.extra.get("reference_deg")))
                           for s, limb in sorted(case.limbs.items())))
        if self._cora_cache is None or self._cora_cache[0] != key:
            self._cora_cache = (key, {})
        cache = self._cora_cache[1]
        if bone not in cache:
            cache[bone] = _safe_cora(case, side, bone)
        return cache[bone]

    # --- edits ----------------------------------------------------------------------------------------
    def _store_plans(self, plans: list[dict[str, Any]], text: str, gesture: int = 0) -> None:
        self.doc.set_limb_extra(self.side, "plans", plans or None, text, gesture)

    def add_plan_from_cut(self, p0: tuple[float, float], p1: tuple[float, float]) -> None:
        """A new plan on the cut p0-p1: the bone it crosses, the hinge on the bisector line (or the
        cut's middle), the CORA's angle."""
        case, side = self.doc.case, self.side
        limb = case.limbs.get(side)
        knee = limb.landmarks.get("knee_center") if limb else None
        mid = ((p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2)
        bone = Bone.TIBIA if (knee is None or mid[1] > knee[1]) else Bone.FEMUR
        cora = _safe_cora(case, side, bone)
        hinge = mid
        angle = 0.0
        if cora is not None and cora.cora_px is not None:
            angle = round(cora.angle_deg, 1)
            if cora.bisector_px is not None:
                hit = _intersect(p0, p1, cora.bisector_px.point_px, cora.bisector_px.direction_px)
                if hit is not None:
                    hinge = hit
        plans = limb_plans(case, side)
        name = f"{'Tibial' if bone is Bone.TIBIA else 'Femoral'} osteotomy {len(plans) + 1}"
        plans.append({"name": name, "bone": str(bone), "osteotomy_px": [list(p0), list(p1)],
                      "hinge_px": list(hinge), "angle_deg": angle, "translation_mm": 0.0})
        self._store_plans(plans, f"Add {side} plan '{name}'")
        self.panel.plan_choice.setCurrentIndex(len(plans) - 1)
        self.refresh()

    def delete_plan(self) -> None:
        plans = limb_plans(self.doc.case, self.side)
        i = self.plan_index()
        if 0 <= i < len(plans):
            name = plans[i].get("name", "plan")
            del plans[i]
            self._store_plans(plans, f"Delete {self.side} plan '{name}'")

    def edit_plan(self, gesture: int = 0, **changes: Any) -> None:
        if self._updating:
            return
        plans = limb_plans(self.doc.case, self.side)
        i = self.plan_index()
        if not (0 <= i < len(plans)):
            return
        plan = copy.deepcopy(plans[i])
        new = {**plan, **changes}
        for key in [k for k, v in changes.items() if v is None]:
            new.pop(key, None)
        if new == plan:
            return
        plans[i] = new
        what = ", ".join(sorted(k.replace("_px", "").replace("_", " ") for k in changes))
        self._store_plans(plans, f"Change {what} of '{new.get('name', 'plan')}'", gesture)

    def apply_mode(self) -> None:
        p = self.panel
        if p.mode_angle.isChecked():
            self.edit_plan(angle_deg=round(p.angle.value(), 2), target=None)
        elif p.mode_mad.isChecked():
            self.edit_plan(target={"mad_mm": p.target_mad.value()}, angle_deg=None)
        elif p.mode_wbl.isChecked():
            self.edit_plan(target={"wbl_pct": p.target_wbl.value()}, angle_deg=None)

    def move_hinge(self, point: tuple[float, float], gesture: int) -> None:
        plan = self.current_plan()
        if plan is None:
            return
        snapped = self.snap(point, plan)
        self.edit_plan(gesture=gesture, hinge_px=[snapped[0], snapped[1]])

    def snap(self, point: tuple[float, float], plan: dict[str, Any]) -> tuple[float, float]:
        """The hinge snaps to the cut's ends and to the bone's bisector line when within 12 screen pixels."""
        zoom = max(self.window.view.zoom(), 1e-6)
        tol = SNAP_SCREEN_PX / zoom
        candidates = [tuple(map(float, plan["osteotomy_px"][0])), tuple(map(float, plan["osteotomy_px"][1]))]
        cora = self.cora(Bone(plan.get("bone", "tibia")))
        if cora is not None and cora.bisector_px is not None:
            (bx, by), (dx, dy) = cora.bisector_px.point_px, cora.bisector_px.direction_px
            n = math.hypot(dx, dy) or 1.0
            dx, dy = dx / n, dy / n
            t = (point[0] - bx) * dx + (point[1] - by) * dy
            candidates.append((bx + t * dx, by + t * dy))
        best = min(candidates, key=lambda c: math.dist(c, point))
        return best if math.dist(best, point) <= tol else point

    def set_reference(self, key: str, value: float) -> None:
        if self._updating:
            return
        side = self.side
        current = reference_angles(self.doc.case, side).values.get(key)
        if current is not None and abs(current - value) < 1e-9:
            return
        limb = self.doc.case.limbs.get(side)
        refs = dict(limb.extra.get("reference_deg") or {}) if limb else {}
        refs[key] = round(float(value), 2)
        self.doc.set_limb_extra(side, "reference_deg", refs, f"Set {side} reference {LABELS[key]} to {value:.1f}°")

    def set_patient(self) -> None:
        if self._updating:
            return
        sex = self.panel.sex.currentData()
        age = self.panel.age.value()
        patient = dict(self.doc.case.extra.get("patient") or {})
        if sex:
            patient["sex"] = sex
        else:
            patient.pop("sex", None)
        if age > 0:
            patient["age_years"] = round(age, 2)
        else:
            patient.pop("age_years", None)
        if patient != (self.doc.case.extra.get("patient") or {}):
            self.doc.set_case_extra("patient", patient or None, "Set the patient's age and sex")

    # --- views --------------------------------------------------------------------------------------
    def refresh(self, scene_only: bool = False) -> None:
        """Redraw the plan over the film and, unless `scene_only` (a drag in progress: the panel's
        texts follow on the main window's panel timer), the planning panel."""
        if not self.active:
            return
        self._updating = True
        try:
            self._refresh(panel=not scene_only)
        finally:
            self._updating = False

    def _refresh(self, panel: bool = True) -> None:
        case, side, p = self.doc.case, self.side, self.panel
        if panel:  # reference angles
            try:
                refs = reference_angles(case, side)
                for key in REFERENCE_KEYS:
                    p.ref_spins[key].setValue(refs.values[key])
                    p.ref_sources[key].setText(str(refs.sources[key]))
            except Exception:  # noqa: BLE001
                pass
        # CORAs
        coras: list[Cora] = []
        lines: list[str] = []
        labels: list[tuple[tuple[float, float], str, QColor]] = []
        for bone in (Bone.FEMUR, Bone.TIBIA):
            cora = self.cora(bone)
            name = bone.value.capitalize()
            if cora is None:
                lines.append(f"<b>{name}</b>: needs its joint landmarks")
                continue
            coras.append(cora)
            if cora.cora_px is None:
                lines.append(f"<b>{name}</b>: no CORA (angulation {abs(cora.angle_deg):.1f}°, under 2°)")
                continue
            u = cora.unit
            lines.append(f"<b>{name} CORA</b>: {abs(cora.angle_deg):.1f}° {cora.direction}, "
                         f"{cora.from_proximal:.0f} {u} below the {'hip' if bone is Bone.FEMUR else 'knee'} centre, "
                         f"offset {cora.offset:+.0f} {u}")
            labels.append((cora.cora_px, f"CORA {abs(cora.angle_deg):.1f}° {cora.direction}", AXIS_COLOUR))
        if panel:
            try:
                lines.append(f"<b>WBL</b>: {wbl_pct(case, side):.1f} % of the plateau from medial (Fujisawa 62.5 %)")
            except Exception:  # noqa: BLE001
                pass
            p.cora_text.setText("<br>".join(lines))
            self._show_plan_choice()
        plan = self.current_plan()
        sim, reason = (None, "")
        rect = QRectF(-0.5, -0.5, float(case.image.get("columns") or 0), float(case.image.get("rows") or 0))
        length = max(rect.width(), rect.height())
        if plan is not None:
            if panel:
                self._show_plan(plan)
            sim, reason = _safe_simulation(case, side, plan, self.cora(Bone(plan.get("bone", "tibia"))))
            if panel:
                if sim is not None and not p.mode_angle.isChecked():
                    p.angle.setValue(sim.angle_deg)
                elif "angle_deg" in plan and plan["angle_deg"] is not None:
                    p.angle.setValue(float(plan["angle_deg"]))
            self.hinge.setPos(QPointF(*plan["hinge_px"]))
            self.hinge.setVisible(True)
        else:
            self.hinge.setVisible(False)
        self.last_simulation = sim
        if panel:
            self._show_simulation(plan, sim, reason)
        cut = tuple(tuple(map(float, c)) for c in plan["osteotomy_px"]) if plan else None
        predicted_axis = None
        original = QPolygonF()
        if sim is not None:
            mp = sim.moved_px
            if "femoral_head_center" in mp and "ankle_center" in mp:
                predicted_axis = (mp["femoral_head_center"], mp["ankle_center"])
                labels.append((mp["ankle_center"], f"after: MAD {sim.predicted.get('mad_mm', sim.predicted.get('mad_px', 0)):+.0f}"
                               f" {sim.unit}, WBL {sim.predicted.get('wbl_pct', 0):.0f} %", PREDICTED_COLOUR))
            original = fragment_polygon(case, side, plan)
            self.fragment.set_fragment(original, sim.transform.matrix_px)
        else:
            self.fragment.set_fragment(QPolygonF(), None)
        self.shade.set_polygon(original)
        self.overlay.set_data(coras, cut, predicted_axis, original, labels, rect, length)
        if panel:
            self._show_growth()

    def _show_plan_choice(self) -> None:
        p = self.panel
        plans = limb_plans(self.doc.case, self.side)
        index = p.plan_choice.currentIndex()
        p.plan_choice.blockSignals(True)
        p.plan_choice.clear()
        for plan in plans:
            p.plan_choice.addItem(str(plan.get("name", "plan")))
        p.plan_choice.setCurrentIndex(min(max(index, 0), len(plans) - 1) if plans else -1)
        p.plan_choice.blockSignals(False)
        enabled = self.current_plan() is not None
        for w in (p.plan_name, p.bone, p.mode_angle, p.mode_mad, p.mode_wbl, p.angle, p.target_mad, p.target_wbl,
                  p.fujisawa, p.translation, p.delete_plan):
            w.setEnabled(enabled)

    def _show_plan(self, plan: dict[str, Any]) -> None:
        p = self.panel
        p.plan_name.setText(str(plan.get("name", "")))
        p.bone.setCurrentIndex(0 if plan.get("bone", "tibia") == "tibia" else 1)
        target = plan.get("target") or {}
        if "mad_mm" in target:
            p.mode_mad.setChecked(True)
            p.target_mad.setValue(float(target["mad_mm"]))
        elif "wbl_pct" in target:
            p.mode_wbl.setChecked(True)
            p.target_wbl.setValue(float(target["wbl_pct"]))
        else:
            p.mode_angle.setChecked(True)
        p.translation.setValue(float(plan.get("translation_mm", 0.0) or 0.0))

    def _show_simulation(self, plan, sim: Simulation | None, reason: str) -> None:
        p = self.panel
        if plan is None:
            p.outcome.setText("Draw a cut across the bone to plan an osteotomy.")
        elif sim is None:
            p.outcome.setText(f"<span style='color:#b00000'>This plan cannot be computed: {reason}</span>")
        else:
            u = sim.unit
            rule_words = {1: "rule 1: hinge on the bisector, cut through the CORA",
                          2: "rule 2: hinge on the bisector, cut away from the CORA (the fragments translate)",
                          3: "rule 3: hinge off the bisector — a secondary translation deformity"}
            lines = [f"<b>{sim.angle_deg:+.1f}°</b> ({'solved for the target' if sim.solved else 'as typed'}); "
                     f"<b>{sim.wedge}</b> wedge: medial {sim.opening['medial']:+.1f} {u}, "
                     f"lateral {sim.opening['lateral']:+.1f} {u} (+ opens, − resect)"]
            if sim.rule is not None:
                lines.append(f"Paley {rule_words.get(sim.rule, f'rule {sim.rule}')}")
            if sim.axis_translation is not None:
                lines.append(f"Axis translation left: {sim.axis_translation:+.1f} {u}")
            if sim.length_change is not None:
                lines.append(f"Length change: {sim.length_change:+.1f} {u}")
            p.outcome.setText("<br>".join(lines))
        current = self.doc.result.limbs.get(self.side)
        for row, key in enumerate(PREDICTED_KEYS):
            label = "WBL" if key == "wbl_pct" else LABELS.get(key, key)
            _set_text(p.table, row, 0, label, False)
            if key == "wbl_pct":
                try:
                    now = f"{wbl_pct(self.doc.case, self.side):.1f} %"
                except Exception:  # noqa: BLE001
                    now = "—"
                after = f"{sim.predicted['wbl_pct']:.1f} %" if sim is not None and "wbl_pct" in sim.predicted else "—"
                normal = "50 % (neutral); 62.5 % (Fujisawa)"
            else:
                now = (format_value(key, current) if current else "") or "—"
                after = (format_value(key, sim.predicted_result) if sim is not None else "") or "—"
                normal = normal_short(key)
            for col, text in ((1, now), (2, after), (3, normal)):
                abnormal = (col == 2 and sim is not None and key in sim.predicted_result.flags
                            and str(sim.predicted_result.flags[key]) != "normal")
                _set_text(p.table, row, col, text, abnormal)

    def _show_growth(self) -> None:
        p = self.panel
        patient = self.doc.case.extra.get("patient") or {}
        p.sex.setCurrentIndex({"male": 1, "female": 2}.get(patient.get("sex"), 0))
        p.age.setValue(float(patient.get("age_years") or 0.0))
        result = self.doc.result
        sex, age = patient.get("sex"), patient.get("age_years")
        if not sex or age is None:
            p.growth_text.setText("Give the sex and age (filled from the film when it has them).")
            return
        try:
            m = multiplier(float(age), str(sex))
        except GrowthError as exc:
            p.growth_text.setText(str(exc))
            return
        text = f"Multiplier {m:.3f}."
        if result.lld_mm is not None:
            text += (f" LLD now {abs(result.lld_mm):.0f} mm, at maturity {abs(result.lld_mm * m):.0f} mm "
                     f"({'right' if result.lld_mm > 0 else 'left'} longer), assuming a congenital "
                     "(proportional) discrepancy.")
        else:
            text += " LLD at maturity needs both calibrated limb lengths."
        p.growth_text.setText(text)


def _set_text(table: QTableWidget, row: int, col: int, text: str, abnormal: bool) -> None:
    """Update a cell in place (new QTableWidgetItems on every drag step cost milliseconds)."""
    item = table.item(row, col)
    if item is None:
        item = QTableWidgetItem()
        if col in (1, 2):
            item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
        table.setItem(row, col, item)
    if item.text() != text:
        item.setText(text)
    colour = QColor(170, 0, 0) if abnormal else QColor(0, 0, 0)
    if item.foreground().color() != colour:
        item.setForeground(colour)


def _intersect(p0, p1, q, d) -> tuple[float, float] | None:
    """Where the segment p0-p1 meets the line through q along d (None when it misses)."""
    ex, ey = p1[0] - p0[0], p1[1] - p0[1]
    denom = ex * d[1] - ey * d[0]
    if abs(denom) < 1e-12:
        return None
    t = ((q[0] - p0[0]) * d[1] - (q[1] - p0[1]) * d[0]) / denom
    if not 0.0 <= t <= 1.0:
        return None
    return (p0[0] + t * ex, p0[1] + t * ey)
