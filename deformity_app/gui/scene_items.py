"""Scene items over the film: landmark markers and the analysis overlay.

Both are views of the CaseDocument: a drag or a key press sends a command to the document, the
document changes, and the items are repositioned from the case. Scene coordinates are image pixels
(x = column, y = row, origin at the centre of the top-left pixel).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF, QStaticText
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSceneMouseEvent, QStyleOptionGraphicsItem, QWidget

from measurements.landmarks import Side, landmark_label
from measurements.overlay import ROLE_RGB, Label, Layer, Overlay

from .document import CaseDocument, new_gesture_id
from .film_view import hold_device_pixels
from .guard import guarded

SIDE_COLOURS = {Side.RIGHT: QColor(80, 200, 255), Side.LEFT: QColor(255, 190, 60)}
ABNORMAL = QColor(255, 70, 70)
ROLE_COLOURS = {role: QColor(*rgb) for role, rgb in ROLE_RGB.items()}


class LandmarkItem(QGraphicsItem):
    """A landmark marker of constant screen size. Drag it, nudge it with the arrow keys (Shift: 10
    pixels), delete it with Delete or Backspace; each becomes one command on the undo stack."""

    RADIUS = 7.0  # screen pixels

    def __init__(self, doc: CaseDocument, side: Side, name: str) -> None:
        super().__init__()
        self.doc, self.side, self.name = doc, side, name
        self.setFlags(
            QGraphicsItem.ItemIgnoresTransformations
            | QGraphicsItem.ItemIsSelectable
            | QGraphicsItem.ItemIsFocusable
        )
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.OpenHandCursor)
        self.setZValue(20)
        # a marker looks the same at every zoom: paint it once into a pixmap, not on every frame
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.setToolTip(f"{side.label} {landmark_label(name).lower()}")
        self._gesture = 0
        self._press_offset = QPointF()
        self.active = False  # the step the workflow is on

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        r = self.RADIUS + 3
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(self.boundingRect())
        return path

    @guarded
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        colour = SIDE_COLOURS[self.side]
        r = self.RADIUS
        painter.setRenderHint(QPainter.Antialiasing, True)
        outline = QPen(QColor(0, 0, 0, 200), 3.0)
        painter.setPen(outline)
        painter.drawEllipse(QPointF(0, 0), r, r)
        pen = QPen(colour, 1.6 if not self.isSelected() else 2.6)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawEllipse(QPointF(0, 0), r, r)
        # a crosshair with a gap at the centre, so the exact point stays visible
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            painter.drawLine(QPointF(dx * 2.0, dy * 2.0), QPointF(dx * (r + 3), dy * (r + 3)))
        if self.isSelected() or self.active:
            painter.setPen(QPen(QColor(255, 255, 255), 1.0, Qt.DotLine))
            painter.drawEllipse(QPointF(0, 0), r + 2.5, r + 2.5)

    # --- gestures -> commands -----------------------------------------------------------------------
    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if event.button() != Qt.LeftButton:
            event.ignore()
            return
        self.setSelected(True)
        self.setFocus()
        self._gesture = new_gesture_id()
        self._press_offset = self.pos() - event.scenePos()
        self.setCursor(Qt.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if not self._gesture:
            return
        p = event.scenePos() + self._press_offset
        self.doc.move_landmark(self.side, self.name, (p.x(), p.y()), self._gesture)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        self._gesture = 0
        self.setCursor(Qt.OpenHandCursor)
        event.accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        step = 10.0 if event.modifiers() & Qt.ShiftModifier else 1.0
        delta = {Qt.Key_Left: (-step, 0.0), Qt.Key_Right: (step, 0.0), Qt.Key_Up: (0.0, -step),
                 Qt.Key_Down: (0.0, step)}.get(event.key())
        if delta is not None:
            if event.isAutoRepeat() and self._gesture:
                gesture = self._gesture
            else:
                gesture = self._gesture = new_gesture_id()
            p = self.pos()
            self.doc.move_landmark(self.side, self.name, (p.x() + delta[0], p.y() + delta[1]), gesture)
            event.accept()
            return
        if event.key() in (Qt.Key_Delete, Qt.Key_Backspace):
            self.doc.delete_landmark(self.side, self.name)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if not event.isAutoRepeat():
            self._gesture = 0
        super().keyReleaseEvent(event)


class OverlayItem(QGraphicsItem):
    """Draws an Overlay (measurements.overlay): lines in image coordinates with cosmetic pens, and
    labels at a constant screen size so they stay legible at every zoom."""

    def __init__(self) -> None:
        super().__init__()
        self.overlay = Overlay((), ())
        self.layers: set[Layer] = set(Layer)
        self._rect = QRectF()
        self.setZValue(10)
        self.setAcceptedMouseButtons(Qt.NoButton)
        self.font = QFont()
        self.font.setPointSizeF(9.5)
        self.font.setBold(True)
        self._texts: dict[str, tuple[QStaticText, float, float]] = {}  # laid-out labels, by text
        self._layout: _LabelLayout | None = None  # where the labels were last painted

    def _static(self, text: str, metrics: QFontMetricsF) -> tuple[QStaticText, float, float]:
        """A label laid out once (QStaticText): re-laying text on every drag frame costs milliseconds."""
        cached = self._texts.get(text)
        if cached is None:
            static = QStaticText(text)
            static.prepare(font=self.font)
            size = metrics.boundingRect(text)
            cached = (static, size.width() + 8, size.height() + 4)
            if len(self._texts) > 500:
                self._texts.clear()
            self._texts[text] = cached
        return cached

    def set_overlay(self, overlay: Overlay, image_rect: QRectF) -> None:
        """Show `overlay`. Only what changed is repainted: during a landmark drag most lines and
        labels stay put, and repainting the whole view on every step would cost the frame."""
        old = self.overlay
        self.overlay = overlay
        # generous margins: labels sit outside the lines they name
        rect = image_rect.adjusted(-image_rect.width(), -200, image_rect.width(), 200)
        device = self._device_transform()
        if rect != self._rect or device is None:
            self.prepareGeometryChange()
            self._rect = rect
            self._layout = None
            self.update()
            return
        dirty: list[QRectF] = []
        pad = 6.0 / max(abs(device.m11()) + abs(device.m12()), 1e-9)  # pen width and antialiasing
        for line in set(old.polylines).symmetric_difference(overlay.polylines):
            if line.layer in self.layers:
                dirty.append(QPolygonF([QPointF(x, y) for x, y in line.points]).boundingRect()
                             .adjusted(-pad, -pad, pad, pad))
        before = self._layout_for(device, old)
        after = self._layout_for(device, overlay)
        unchanged = set(before.placements) & set(after.placements)
        inverse, _ok = device.inverted()
        for layout in (before, after):
            for placement in layout.placements:
                if placement not in unchanged:
                    dirty.append(inverse.mapRect(placement.area()))
        self._layout = after
        for area in dirty:
            self.update(area)

    def hold(self, on: bool) -> None:
        """Keep the painted overlay in a pixmap while something else moves over it (a hinge drag
        repaints the fragment's region every step; blitting the lines back is cheaper than
        stroking them again). Off otherwise: a landmark drag changes the overlay itself."""
        hold_device_pixels(self, on)

    def set_layers(self, layers: set[Layer]) -> None:
        self.layers = set(layers)
        self._layout = None
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect

    def _device_transform(self):
        return device_transform(self)

    def _layout_for(self, transform, overlay: Overlay) -> _LabelLayout:
        """Where each label of `overlay` goes on screen under `transform` (viewport pixels)."""
        layout = self._layout
        key = _transform_key(transform)
        if layout is not None and layout.overlay is overlay and layout.key == key:
            return layout
        metrics = QFontMetricsF(self.font)
        placed: list[QRectF] = []
        placements: list[_Placement] = []
        # abnormal values first: when space runs out, they are the ones that must stay readable
        labels = sorted((lbl for lbl in overlay.labels if lbl.layer in self.layers), key=lambda l: not l.abnormal)
        for label in labels:
            anchor = transform.map(QPointF(*label.anchor))
            _static, width, height = self._static(label.text, metrics)
            box = place_label(anchor, label.direction, width, height, placed)
            placed.append(box)
            placements.append(_Placement(label, box.x(), box.y(), box.width(), box.height(), anchor.x(), anchor.y()))
        return _LabelLayout(overlay, key, tuple(placements))

    @guarded
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.Antialiasing, True)
        for line in self.overlay.polylines:
            if line.layer not in self.layers:
                continue
            colour = ABNORMAL if line.abnormal else ROLE_COLOURS.get(line.role, QColor(255, 255, 255))
            width = 2.2 if line.role in ("mechanical_axis", "mad") else 1.6
            pen = QPen(colour, width)
            pen.setCosmetic(True)  # constant screen width at every zoom
            if line.dashed:
                pen.setStyle(Qt.DashLine)
            painter.setPen(pen)
            painter.drawPolyline(QPolygonF([QPointF(x, y) for x, y in line.points]))
        self._paint_labels(painter)

    def _paint_labels(self, painter: QPainter) -> None:
        transform = painter.worldTransform()
        layout = self._layout_for(transform, self.overlay)
        device = self._device_transform()
        if device is not None and _transform_key(device) == layout.key:
            self._layout = layout  # the next change repaints exactly where these labels were
        painter.save()
        painter.resetTransform()
        painter.setFont(self.font)
        metrics = QFontMetricsF(self.font)
        for placement in layout.placements:
            label = placement.label
            box = QRectF(placement.x, placement.y, placement.w, placement.h)
            anchor = QPointF(placement.ax, placement.ay)
            static, _w, _h = self._static(label.text, metrics)
            if not box.contains(anchor):
                painter.setPen(QPen(QColor(255, 255, 255, 140), 1.0))
                painter.drawLine(anchor, _nearest_on_rect(box, anchor))
            painter.setPen(Qt.NoPen)
            painter.setBrush(QBrush(QColor(0, 0, 0, 175)))
            painter.drawRoundedRect(box, 3, 3)
            painter.setPen(QPen(ABNORMAL if label.abnormal else QColor(255, 255, 255)))
            painter.drawStaticText(QPointF(box.left() + 4, box.top() + 2), static)
        painter.restore()


def device_transform(item: QGraphicsItem):
    """Item to viewport pixels of the (first) view showing `item`, or None."""
    scene = item.scene()
    views = scene.views() if scene is not None else []
    return item.deviceTransform(views[0].viewportTransform()) if views else None


@dataclass(frozen=True, slots=True)
class _Placement:
    """A label and its box on screen (viewport pixels), with the anchor its leader line starts at."""
    label: Label
    x: float
    y: float
    w: float
    h: float
    ax: float
    ay: float

    def area(self) -> QRectF:
        """What painting this label covers: its box and its leader line, with a pixel to spare."""
        box = QRectF(self.x, self.y, self.w, self.h)
        return box.united(QRectF(self.ax, self.ay, 0.1, 0.1)).adjusted(-2, -2, 2, 2)


@dataclass(frozen=True, slots=True)
class _LabelLayout:
    overlay: Overlay
    key: tuple[float, ...]
    placements: tuple[_Placement, ...]


def _transform_key(t) -> tuple[float, ...]:
    return (t.m11(), t.m12(), t.m21(), t.m22(), t.dx(), t.dy())


def _base_box(anchor: QPointF, direction: tuple[float, float], w: float, h: float) -> QRectF:
    """The text box on the side of the anchor its direction points to, so it does not cover the vertex."""
    dx, dy = direction
    x = anchor.x() - w / 2 + dx * w / 2
    y = anchor.y() - h / 2 + dy * h / 2
    return QRectF(x, y, w, h)


def place_label(anchor: QPointF, direction: tuple[float, float], w: float, h: float,
                placed: list[QRectF]) -> QRectF:
    """A box for a label that overlaps no box already placed, searched outward from its natural
    place (along its direction first, then up and down); the natural place when nothing is free."""
    base = _base_box(anchor, direction, w, h)
    dx, dy = direction

    def candidates():  # lazily: most labels fit where they belong, and this runs on every drag frame
        yield base
        for step in range(1, 7):
            yield base.translated(dx * step * h * 0.8, dy * step * h * 0.8)
            yield base.translated(0, step * (h + 2))
            yield base.translated(0, -step * (h + 2))

    for box in candidates():
        if not any(box.intersects(other) for other in placed):
            return box
    return base


def _nearest_on_rect(rect: QRectF, p: QPointF) -> QPointF:
    return QPointF(min(max(p.x(), rect.left()), rect.right()), min(max(p.y(), rect.top()), rect.bottom()))


class PointsItem(QGraphicsItem):
    """Temporary points of a tool (head contour, calibration ball) and the circle fitted to them."""

    def __init__(self, colour: QColor) -> None:
        super().__init__()
        self.points: list[tuple[float, float]] = []
        # cx, cy, r, or cx, cy, rx, ry in image pixels (a round head on anisotropic pixels is an ellipse)
        self.circle: tuple[float, ...] | None = None
        self.colour = colour
        self.setZValue(15)
        self.setAcceptedMouseButtons(Qt.NoButton)

    def set_data(self, points: list[tuple[float, float]], circle: tuple[float, ...] | None) -> None:
        self.prepareGeometryChange()
        self.points = list(points)
        self.circle = circle
        self.update()

    def _radii(self) -> tuple[float, float, float, float]:
        cx, cy, *r = self.circle
        return cx, cy, r[0], r[-1]

    def boundingRect(self) -> QRectF:  # noqa: N802
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        if self.circle:
            cx, cy, rx, ry = self._radii()
            xs += [cx - rx, cx + rx]
            ys += [cy - ry, cy + ry]
        if not xs:
            return QRectF()
        return QRectF(min(xs) - 50, min(ys) - 50, max(xs) - min(xs) + 100, max(ys) - min(ys) + 100)

    @guarded
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.Antialiasing, True)
        pen = QPen(self.colour, 1.5)
        pen.setCosmetic(True)
        painter.setPen(pen)
        if self.circle:
            cx, cy, rx, ry = self._radii()
            painter.drawEllipse(QPointF(cx, cy), rx, ry)
            painter.drawLine(QPointF(cx - rx * 0.1, cy), QPointF(cx + rx * 0.1, cy))
            painter.drawLine(QPointF(cx, cy - ry * 0.1), QPointF(cx, cy + ry * 0.1))
        scale = painter.worldTransform().m11() or 1.0
        s = 4.0 / abs(scale)  # 4 screen pixels
        for x, y in self.points:
            painter.drawLine(QPointF(x - s, y - s), QPointF(x + s, y + s))
            painter.drawLine(QPointF(x - s, y + s), QPointF(x + s, y - s))


class HandleItem(QGraphicsItem):
    """A small square of constant screen size that the user drags to change something (the radius
    of a fitted circle). `on_drag(x, y, gesture)` gets image coordinates; the steps of one drag share
    a gesture, so they become one undo entry."""

    SIZE = 5.0  # half side, screen pixels

    def __init__(self, colour: QColor, tooltip: str, on_drag: Callable[[float, float, int], None]) -> None:
        super().__init__()
        self.colour = colour
        self.on_drag = on_drag
        self._gesture = 0
        self.setFlags(QGraphicsItem.ItemIgnoresTransformations)
        self.setZValue(21)
        self.setCursor(Qt.SizeAllCursor)
        self.setToolTip(tooltip)
        self.setAcceptHoverEvents(True)

    def boundingRect(self) -> QRectF:  # noqa: N802
        s = self.SIZE + 2
        return QRectF(-s, -s, 2 * s, 2 * s)

    @guarded
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        s = self.SIZE
        painter.setPen(QPen(QColor(0, 0, 0, 200), 1.0))
        painter.setBrush(QBrush(self.colour))
        painter.drawRect(QRectF(-s, -s, 2 * s, 2 * s))

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if event.button() != Qt.LeftButton:
            event.ignore()
            return
        self._gesture = new_gesture_id()
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self._gesture:
            p = event.scenePos()
            self.on_drag(p.x(), p.y(), self._gesture)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        self._gesture = 0
        event.accept()


SceneSync = Callable[[], None]
