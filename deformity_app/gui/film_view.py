"""The film display: a raster ``QGraphicsView`` that shows a large 8 to 32-bit radiograph fluidly.

Scene coordinates are image pixel coordinates of the full-resolution film, with the project's
convention: ``x`` = column, ``y`` = row, origin at the centre of the top-left pixel, so pixel
``(row i, column j)`` covers the scene rectangle ``[j - 0.5, j + 0.5] x [i - 0.5, i + 0.5]``.
Overlay items added to :attr:`FilmView.scene` later therefore use image coordinates directly.

Display path (pyqtgraph's, see ``pyramid.py``): :class:`FilmItem` paints only the exposed part;
it picks the pyramid level that matches the zoom, cuts the visible region plus a margin from it,
windows that region through a lookup table (straight to 32-bit grey pixels, which Qt draws
without converting), wraps the buffer in a ``QImage`` without a copy, and draws it scaled. The last windowed region is cached, so pans inside it and repaints
under moving overlays only blit. No OpenGL (remote-desktop workstations).

Mouse and keyboard
------------------
* wheel: zoom about the cursor, between a quarter of the fit zoom and 32 screen pixels per
  image pixel; :meth:`FilmView.fit` and :meth:`FilmView.one_to_one` set the zoom directly.
* middle drag, or left drag with the space bar held: pan.
* right drag: window/level. Dragging right widens the window (less contrast), dragging down
  raises the centre (darker image); 300 screen pixels double the width or move the centre by
  one width, so a drag feels the same on 8, 12 and 16-bit films.
* left button: for tools the lead adds later. With :attr:`InteractionMode.ITEMS_FIRST` (the
  default) the press goes to the scene first; an item that accepts it (a movable landmark, say)
  gets the whole gesture the normal Qt way, and the view emits nothing. Otherwise the view emits
  :attr:`FilmView.leftPressed`, :attr:`FilmView.leftDragged` and :attr:`FilmView.leftReleased`
  in image coordinates. :attr:`InteractionMode.SIGNALS_ONLY` skips the scene and always emits.
"""
from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QThreadPool, QTimer, Qt, Signal, SignalInstance
from PySide6.QtGui import (QColor, QCursor, QFocusEvent, QImage, QKeyEvent, QMouseEvent, QPainter,
                           QPaintEvent, QPen, QResizeEvent, QTransform, QWheelEvent)
from PySide6.QtWidgets import (QFrame, QGraphicsItem, QGraphicsScene, QGraphicsView,
                               QStyleOptionGraphicsItem, QWidget)

from deformity_app.gui.guard import guarded
from deformity_app.gui.pyramid import GREY_TO_RGB32, ImagePyramid, Windowing, apply_clahe, auto_window

log = logging.getLogger(__name__)

__all__ = ["FilmView", "FilmItem", "FilmRenderer", "InteractionMode"]

#: z value of the film; overlays at the default z (0) draw above it.
FILM_Z = -1000.0
#: Extra film around the visible area windowed with each region, in screen pixels, so that
#: short pans and small zoom-ins reuse the cached region.
REGION_MARGIN_PX = 128
#: Level pixels added around the exposed part when drawing from the cached region, so smooth
#: (bilinear) scaling of a strip sees its neighbours and strips join without seams.
DRAW_PAD_PX = 2


class InteractionMode(enum.StrEnum):
    """Who gets a left-button gesture on the film (see the module docstring)."""
    ITEMS_FIRST = "items_first"
    SIGNALS_ONLY = "signals_only"


class _Gesture(enum.Enum):
    PAN = enum.auto()
    WINDOW = enum.auto()
    LEFT = enum.auto()     # left-button gesture reported through signals
    ITEM = enum.auto()     # left-button gesture owned by a scene item


# ------------------------------------------------------------------------------------------------
# Rendering
# ------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Region:
    """A windowed block of one pyramid level, ready to draw.

    ``buffer`` is the memory ``image`` points into; holding it here keeps it alive as long as
    the ``QImage`` may be drawn.
    """
    array: np.ndarray        # the level array it was cut from (identity tells previews apart)
    level: int
    version: int             # FilmRenderer.version at windowing time
    r0: int                  # level-pixel bounds, half-open
    r1: int
    c0: int
    c1: int
    buffer: np.ndarray
    image: QImage

    def contains(self, r0: int, r1: int, c0: int, c1: int) -> bool:
        return self.r0 <= r0 and r1 <= self.r1 and self.c0 <= c0 and c1 <= self.c1


def _wrap(buffer: np.ndarray) -> QImage:
    """A QImage sharing ``buffer``'s memory (no copy); the caller keeps ``buffer`` alive.

    ``buffer``: HxW uint32 ``0xFFgggggg`` (RGB32), HxW uint8 grey, or HxWx3 uint8 RGB.
    """
    h, w = buffer.shape[:2]
    if buffer.ndim == 3:
        fmt = QImage.Format.Format_RGB888
    elif buffer.dtype == np.uint32:
        fmt = QImage.Format.Format_RGB32
    else:
        fmt = QImage.Format.Format_Grayscale8
    return QImage(buffer, w, h, buffer.strides[0], fmt)


def _level_bounds(rect: QRectF, sy: float, sx: float, shape: tuple[int, ...], pad: float
                  ) -> tuple[int, int, int, int]:
    """Level-pixel bounds ``(r0, r1, c0, c1)`` (half-open) covering an image rect, plus ``pad``."""
    h, w = shape[0], shape[1]
    c0 = max(0, math.floor((rect.left() + 0.5) / sx - pad))
    c1 = min(w, math.ceil((rect.right() + 0.5) / sx + pad))
    r0 = max(0, math.floor((rect.top() + 0.5) / sy - pad))
    r1 = min(h, math.ceil((rect.bottom() + 0.5) / sy + pad))
    return r0, r1, c0, c1


class FilmRenderer:
    """The film, its display settings, and the drawing of any part of it at any scale.

    Shared by the film item and the loupe so both go through the same pyramid/LUT path.
    ``version`` increases whenever the picture changes (new film or new display settings).
    """

    def __init__(self) -> None:
        self.pyramid: ImagePyramid | None = None
        self.center = 0.5
        self.width = 1.0
        self.invert = False
        self.clahe = False
        self.version = 0
        self.regions_computed = 0       # diagnostics: how often a region was windowed
        self._windowing: Windowing | None = None

    def set_pyramid(self, pyramid: ImagePyramid | None) -> None:
        self.pyramid = pyramid
        self._windowing = None
        self.version += 1
        self._rebuild()

    def set_display(self, center: float, width: float, invert: bool, clahe: bool) -> None:
        """New window (modality units), invert and CLAHE settings."""
        self.center, self.width = float(center), float(width)
        self.invert, self.clahe = bool(invert), bool(clahe)
        self.version += 1
        self._rebuild()

    def _rebuild(self) -> None:
        pyr = self.pyramid
        if pyr is None:
            self._windowing = None
            return
        # CLAHE works on the plain windowed grey; invert comes after it.
        self._windowing = Windowing(pyr.dtype, self.center, self.width,
                                    self.invert and not self.clahe, pyr.value_range)

    def windowed(self, array: np.ndarray) -> np.ndarray:
        """Display pixels of a region of the film or of a pyramid level, C-contiguous.

        Grey films give uint32 ``0xFFgggggg`` (drawn by Qt without conversion), colour films
        HxWx3 uint8 RGB.
        """
        w = self._windowing
        assert w is not None
        if not self.clahe:
            return w.apply(array) if array.ndim == 3 else w.apply_rgb32(array)
        grey = apply_clahe(w.apply(array))
        if self.invert:
            np.subtract(255, grey, out=grey)
        return grey if grey.ndim == 3 else np.take(GREY_TO_RGB32, grey)

    def paint(self, painter: QPainter, exposed: QRectF, scale: float, visible: QRectF | None = None,
              cached: _Region | None = None) -> _Region | None:
        """Draw the film's part inside ``exposed`` (image coordinates) with ``painter``.

        Parameters
        ----------
        painter
            Painter whose world transform maps image coordinates to its device.
        exposed
            Image rect to draw (already clipped to the film).
        scale
            Device pixels per image pixel, for choosing the pyramid level.
        visible
            Image rect currently on screen: when the cache misses, this plus a margin is
            windowed, so the next paints (pans, overlays moving) reuse it. None: only ``exposed``.
        cached
            The region returned by the previous call, reused when it still fits.

        Returns
        -------
        The region drawn from (pass it back as ``cached``), or None when nothing was drawn.
        """
        pyr = self.pyramid
        if pyr is None or self._windowing is None or exposed.isEmpty():
            return cached
        k, array = pyr.available_level(pyr.level_for_scale(scale))
        sy, sx = pyr.factors(k)
        level_scale = scale * max(sx, sy)     # device pixels per level pixel
        need = _level_bounds(exposed, sy, sx, array.shape, DRAW_PAD_PX)
        r0, r1, c0, c1 = need
        if r1 <= r0 or c1 <= c0:
            return cached
        region = cached
        if (region is None or region.array is not array or region.version != self.version
                or not region.contains(*need)):
            bounds = need
            if visible is not None and not visible.isEmpty():
                # A region dropped only because the window changed (a right-drag in progress)
                # is replaced by the visible part alone: the next window step comes sooner than
                # a pan, and windowing the margin would cost about 40 % more at 1:1.
                same_place = region is not None and region.array is array and region.version != self.version
                margin = 0.0 if same_place else REGION_MARGIN_PX / max(level_scale, 1e-9)
                vr0, vr1, vc0, vc1 = _level_bounds(visible, sy, sx, array.shape, margin)
                bounds = (min(r0, vr0), max(r1, vr1), min(c0, vc0), max(c1, vc1))
            br0, br1, bc0, bc1 = bounds
            buffer = self.windowed(array[br0:br1, bc0:bc1])
            region = _Region(array, k, self.version, br0, br1, bc0, bc1, buffer, _wrap(buffer))
            self.regions_computed += 1
        source = QRectF(c0 - region.c0, r0 - region.r0, c1 - c0, r1 - r0)
        target = QRectF(c0 * sx - 0.5, r0 * sy - 0.5, (c1 - c0) * sx, (r1 - r0) * sy)
        painter.save()
        # Smooth when zoomed out; nearest at 1:1 and beyond so single pixels stay visible.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1.0 - 1e-6)
        painter.drawImage(target, region.image, source)
        painter.restore()
        return region


def hold_device_pixels(item: QGraphicsItem, on: bool) -> None:
    """Keep what `item` painted in a pixmap (DeviceCoordinateCache) while `on`, when the item is not
    much larger than the view: Qt caches the whole item then, and a repaint under something moving is
    a blit. Larger (zoomed in), Qt's partial cache measured slower than painting again: no cache."""
    mode = QGraphicsItem.CacheMode.NoCache
    if on:
        scene = item.scene()
        views = scene.views() if scene is not None else []
        if views:
            area = item.deviceTransform(views[0].viewportTransform()).mapRect(item.boundingRect())
            viewport = views[0].viewport().rect()
            if area.width() <= 1.25 * viewport.width() and area.height() <= 1.25 * viewport.height():
                mode = QGraphicsItem.CacheMode.DeviceCoordinateCache
    if item.cacheMode() != mode:
        item.setCacheMode(mode)


class FilmItem(QGraphicsItem):
    """The film as a scene item: bounding rect ``(-0.5, -0.5, cols, rows)``, paints the exposed part.

    Accepts no mouse buttons, so clicks on bare film fall through to the view (see
    :class:`InteractionMode`).
    """

    def __init__(self, renderer: FilmRenderer, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.renderer = renderer
        self._rect = QRectF()
        self._cached: _Region | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setZValue(FILM_Z)

    def hold(self, on: bool) -> None:
        """While something is dragged over the film, keep the painted film in a pixmap: each drag
        frame repaints the overlays over it, and blitting the film back costs ~1 ms where drawing it
        again, smoothly scaled, costs ~3.5 ms on a 1600 x 1000 view. Off otherwise: a window change
        at 1:1 would refill a film-sized cache (measured 20x slower)."""
        hold_device_pixels(self, on)

    def set_shape(self, rows: int, cols: int) -> None:
        """Resize to a film of ``rows`` x ``cols`` pixels (0, 0 for none)."""
        self.prepareGeometryChange()
        self._rect = QRectF(-0.5, -0.5, cols, rows) if rows and cols else QRectF()
        self._cached = None
        self.update()

    def invalidate(self) -> None:
        """Repaint after a window or film change.

        The cached region stays until the next paint, which sees from its version that it is
        stale and where it was (see :meth:`FilmRenderer.paint`).
        """
        self.update()

    def cached_region_level(self) -> int | None:
        """Pyramid level of the cached region, or None (diagnostics and tests)."""
        return None if self._cached is None else self._cached.level

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return QRectF(self._rect)

    @guarded
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        exposed = option.exposedRect.intersected(self._rect)
        if exposed.isEmpty():
            return
        t = painter.worldTransform()
        device = painter.device()
        dpr = device.devicePixelRatioF() if device is not None else 1.0
        scale = math.hypot(t.m11(), t.m12()) * dpr
        visible = None
        if widget is not None:
            inverse, ok = t.inverted()
            if ok:
                visible = inverse.mapRect(QRectF(widget.rect())).intersected(self._rect)
        self._cached = self.renderer.paint(painter, exposed, scale, visible, self._cached)


# ------------------------------------------------------------------------------------------------
# Loupe
# ------------------------------------------------------------------------------------------------

class _Loupe(QWidget):
    """Magnifier following the cursor: the film around it at 4x the view's zoom, with a crosshair.

    A child of the view (not of its viewport), so the viewport's scroll-by-blit during pans does
    not drag it along.
    """

    SIZE = 160
    MAGNIFICATION = 4.0
    MAX_SCALE = 128.0

    def __init__(self, view: FilmView) -> None:
        super().__init__(view)
        self._view = view
        self._center = QPointF()
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.resize(self.SIZE, self.SIZE)
        self.hide()

    def follow(self, viewport_pos: QPointF, image_point: QPointF) -> None:
        """Centre on ``viewport_pos`` (viewport pixels), showing the film around ``image_point``."""
        self._center = QPointF(image_point)
        origin = self._view.viewport().geometry().topLeft()
        half = self.SIZE // 2
        self.move(origin.x() + round(viewport_pos.x()) - half, origin.y() + round(viewport_pos.y()) - half)
        self.raise_()
        self.update()

    @guarded
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0))
        renderer = self._view.renderer
        pyr = renderer.pyramid
        half = self.SIZE / 2.0
        if pyr is not None:
            s = min(self._view.zoom() * self.MAGNIFICATION, self.MAX_SCALE)
            t = QTransform()
            t.translate(half, half)
            t.scale(s, s)
            t.translate(-self._center.x(), -self._center.y())
            rows, cols = pyr.shapes[0]
            exposed = t.inverted()[0].mapRect(QRectF(self.rect())).intersected(QRectF(-0.5, -0.5, cols, rows))
            p.setWorldTransform(t)
            renderer.paint(p, exposed, s * self.devicePixelRatioF())
            p.resetTransform()
        # crosshair with a gap, so the pixel under the cursor stays visible
        p.setPen(QPen(QColor(255, 210, 0), 1))
        gap = 6
        p.drawLine(QPointF(half, 0), QPointF(half, half - gap))
        p.drawLine(QPointF(half, half + gap), QPointF(half, self.SIZE))
        p.drawLine(QPointF(0, half), QPointF(half - gap, half))
        p.drawLine(QPointF(half + gap, half), QPointF(self.SIZE, half))
        p.setPen(QPen(QColor(160, 160, 160), 1))
        p.drawRect(QRectF(0.5, 0.5, self.SIZE - 1, self.SIZE - 1))
        p.end()


# ------------------------------------------------------------------------------------------------
# Background pyramid building
# ------------------------------------------------------------------------------------------------

class _BuildSignals(QObject):
    """Carries worker-thread progress to the GUI thread (queued connections)."""
    levelReady = Signal(object, int)
    finished = Signal(object, bool)


# ------------------------------------------------------------------------------------------------
# The view
# ------------------------------------------------------------------------------------------------

class FilmView(QGraphicsView):
    """Film viewer widget with its own scene; see the module docstring for mouse and keys.

    Signals
    -------
    windowChanged(center, width)
        Window in modality units, after every change.
    cursorMoved(x, y)
        Image coordinates under the cursor; ``(-1, -1)`` outside the film or the widget.
    zoomChanged(scale)
        Screen pixels per image pixel.
    leftPressed(x, y, modifiers), leftDragged(x, y, modifiers), leftReleased(x, y, modifiers)
        Left-button gesture on the film not taken by a scene item, image coordinates.
    pyramidReady()
        Every pyramid level of the current film is built.
    dragFinished()
        A left-button drag (of an item or reported through the signals) ended.
    """

    windowChanged = Signal(float, float)
    cursorMoved = Signal(float, float)
    zoomChanged = Signal(float)
    leftPressed = Signal(float, float, Qt.KeyboardModifier)
    leftDragged = Signal(float, float, Qt.KeyboardModifier)
    leftReleased = Signal(float, float, Qt.KeyboardModifier)
    pyramidReady = Signal()
    dragFinished = Signal()

    #: Zoom factor of one wheel notch (four notches double the zoom).
    ZOOM_STEP = 2.0 ** 0.25
    #: Largest zoom, screen pixels per image pixel.
    MAX_ZOOM = 32.0
    #: Smallest zoom as a fraction of the fit zoom.
    MIN_ZOOM_OF_FIT = 0.25
    #: Right-drag pixels that double the window width or shift the centre by one width.
    WL_DRAG_PX = 300.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.renderer = FilmRenderer()
        self._item = FilmItem(self.renderer)
        self._scene.addItem(self._item)
        self._pyramid: ImagePyramid | None = None
        self._is_float = False
        self._fitted = False
        self._mode = InteractionMode.ITEMS_FIRST
        self._gesture: _Gesture | None = None
        self._gesture_button = Qt.MouseButton.NoButton
        self._press_pos = QPointF()
        self._press_scroll = (0, 0)
        self._press_window = (0.0, 1.0)
        self._saved_cursor: QCursor | None = None
        self._space_down = False
        self._builds: dict[int, _BuildSignals] = {}   # keeps each running build's emitter alive

        # Zoom about the cursor is done in set_zoom() from the event's own position: Qt's
        # AnchorUnderMouse reads QCursor::pos(), which synthetic (tested, remote) events do not move.
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QColor(0, 0, 0))
        # Minimal updates let Qt scroll the viewport by blitting during pans and repaint only
        # the newly exposed strip.
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing, True)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._loupe = _Loupe(self)
        self._loupe_enabled = False
        self._update_scene_rect()

    # -- film ------------------------------------------------------------------------------

    def set_film(self, pixels: np.ndarray, window: tuple[float, float] | None = None,
                 invert: bool = False) -> None:
        """Show a new film (replacing any other), fitted to the view.

        Parameters
        ----------
        pixels
            HxW modality values (8 to 32-bit integers or floats) or HxWx3 uint8 RGB. Kept by
            reference, not copied; do not modify it while it is shown.
        window
            ``(center, width)`` in modality units; None computes one (:meth:`auto_window`).
        invert
            Show inverted (e.g. MONOCHROME1).

        The first frame paints at once from a nearest-neighbour preview; the pyramid is built on
        the global ``QThreadPool`` and :attr:`pyramidReady` is emitted when it is complete.
        """
        self._cancel_build()
        pyramid = ImagePyramid(pixels)
        self._pyramid = pyramid
        self._is_float = pyramid.dtype.kind == "f"
        self.renderer.set_pyramid(pyramid)
        rows, cols = pyramid.shapes[0]
        self._item.set_shape(rows, cols)
        if window is None:
            window = self._auto_window_values()
        center, width = window
        self.renderer.set_display(center, self._valid_width(width), invert, self.renderer.clahe)
        self._update_scene_rect()
        self.fit()
        self.windowChanged.emit(self.renderer.center, self.renderer.width)
        if pyramid.complete:
            self.pyramidReady.emit()
        else:
            self._start_build(pyramid)

    def clear(self) -> None:
        """Show no film."""
        self._cancel_build()
        self._pyramid = None
        self.renderer.set_pyramid(None)
        self._item.set_shape(0, 0)
        self._loupe.hide()
        self._update_scene_rect()

    def film(self) -> np.ndarray | None:
        """The film shown (level 0, the caller's array), or None."""
        return None if self._pyramid is None else self._pyramid.pixels

    def pyramid(self) -> ImagePyramid | None:
        """The current film's pyramid, or None."""
        return self._pyramid

    def pyramid_complete(self) -> bool:
        """True when no pyramid level is still being built (or there is no film)."""
        return self._pyramid is None or self._pyramid.complete

    def film_item(self) -> FilmItem:
        """The scene item that paints the film."""
        return self._item

    def pixel_value(self, x: float, y: float) -> int | float | tuple[int, int, int] | None:
        """Modality value of the pixel containing image point ``(x, y)``; None outside the film.

        An int for integer films, a float for float films, an ``(r, g, b)`` tuple for colour.
        """
        pyr = self._pyramid
        if pyr is None or not (math.isfinite(x) and math.isfinite(y)):
            return None
        j, i = math.floor(x + 0.5), math.floor(y + 0.5)
        rows, cols = pyr.shapes[0]
        if not (0 <= i < rows and 0 <= j < cols):
            return None
        v = pyr.pixels[i, j]
        if pyr.is_colour:
            return (int(v[0]), int(v[1]), int(v[2]))
        return float(v) if self._is_float else int(v)

    # -- display settings ------------------------------------------------------------------

    def window(self) -> tuple[float, float]:  # type: ignore[override]
        """Current window ``(center, width)`` in modality units.

        Note: this shadows ``QWidget.window()`` (the top-level widget) for Python callers; use
        ``QWidget.window(view)`` for that.
        """
        return (self.renderer.center, self.renderer.width)

    def set_window(self, center: float, width: float) -> None:
        """Set the window (modality units); width is raised to 1 (integer films) or kept > 0."""
        width = self._valid_width(width)
        center = float(center)
        if (center, width) == (self.renderer.center, self.renderer.width):
            return
        self.renderer.set_display(center, width, self.renderer.invert, self.renderer.clahe)
        self._picture_changed()
        self.windowChanged.emit(center, width)

    def auto_window(self) -> tuple[float, float]:
        """Set and return a window spanning the 0.5 to 99.5 percentiles of a coarse level."""
        if self._pyramid is None:
            return self.window()
        c, w = self._auto_window_values()
        self.set_window(c, w)
        return self.window()

    def set_invert(self, invert: bool) -> None:
        """Show the film inverted (bright bone dark) or not."""
        if bool(invert) == self.renderer.invert:
            return
        r = self.renderer
        r.set_display(r.center, r.width, bool(invert), r.clahe)
        self._picture_changed()

    def is_inverted(self) -> bool:
        return self.renderer.invert

    def set_clahe(self, enabled: bool) -> None:
        """Contrast-limited adaptive histogram equalisation of the shown region (viewing only)."""
        if bool(enabled) == self.renderer.clahe:
            return
        r = self.renderer
        r.set_display(r.center, r.width, r.invert, bool(enabled))
        self._picture_changed()

    def clahe_enabled(self) -> bool:
        return self.renderer.clahe

    def set_loupe_enabled(self, enabled: bool) -> None:
        """Show a magnifier (4x the current zoom, crosshair) following the cursor over the film."""
        self._loupe_enabled = bool(enabled)
        if not enabled:
            self._loupe.hide()

    def loupe_enabled(self) -> bool:
        return self._loupe_enabled

    def interaction_mode(self) -> InteractionMode:
        return self._mode

    def set_interaction_mode(self, mode: InteractionMode | str) -> None:
        """Whether scene items get first refusal of left-button gestures (see :class:`InteractionMode`)."""
        self._mode = InteractionMode(mode)

    # -- zoom and pan ----------------------------------------------------------------------

    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        t = self.transform()
        return math.hypot(t.m11(), t.m12())

    def fit_zoom(self) -> float:
        """The zoom at which the whole film fits the viewport (1 without a film)."""
        if self._pyramid is None:
            return 1.0
        rows, cols = self._pyramid.shapes[0]
        vp = self.viewport()
        # one pixel of slack per side: scroll positions are whole pixels
        return max(1e-6, min((vp.width() - 2) / cols, (vp.height() - 2) / rows))

    def zoom_limits(self) -> tuple[float, float]:
        """``(min, max)`` zoom: a quarter of the fit zoom, and 32 (or the fit zoom if larger)."""
        fit = self.fit_zoom()
        return (fit * self.MIN_ZOOM_OF_FIT, max(self.MAX_ZOOM, fit))

    def set_zoom(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``scale`` (clamped to :meth:`zoom_limits`) keeping the image point at ``anchor``.

        ``anchor`` is in viewport pixels; None means the viewport centre.
        """
        lo, hi = self.zoom_limits()
        scale = min(max(float(scale), lo), hi)
        if anchor is None:
            anchor = QPointF(self.viewport().width() / 2.0, self.viewport().height() / 2.0)
        fixed = self.map_to_image(anchor)
        old = self.zoom()
        self.setTransform(QTransform.fromScale(scale, scale))
        moved = self.map_from_image(fixed.x(), fixed.y()) - anchor
        self._scroll_by(round(moved.x()), round(moved.y()))
        self._fitted = False
        if scale != old:
            self.zoomChanged.emit(scale)

    def fit(self) -> None:
        """Zoom and centre so the whole film is visible; stays fitted when the view resizes."""
        if self._pyramid is None:
            return
        old = self.zoom()
        scale = self.fit_zoom()
        self.setTransform(QTransform.fromScale(scale, scale))
        rows, cols = self._pyramid.shapes[0]
        self.centerOn(QPointF((cols - 1) / 2.0, (rows - 1) / 2.0))
        self._fitted = True
        if scale != old:
            self.zoomChanged.emit(scale)

    def one_to_one(self) -> None:
        """One screen pixel per film pixel, about the viewport centre."""
        self.set_zoom(1.0)

    def map_to_image(self, viewport_pos: QPointF) -> QPointF:
        """Image coordinates of a viewport position (sub-pixel, unlike ``mapToScene``)."""
        return self.viewportTransform().inverted()[0].map(QPointF(viewport_pos))

    def map_from_image(self, x: float, y: float) -> QPointF:
        """Viewport position (sub-pixel) of image point ``(x, y)``."""
        return self.viewportTransform().map(QPointF(x, y))

    def _scroll_by(self, dx: int, dy: int) -> None:
        """Move the film left by ``dx`` and up by ``dy`` screen pixels."""
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + dx)
        v.setValue(v.value() + dy)

    def _update_scene_rect(self) -> None:
        # Room around the film for a viewport at the smallest zoom, so the film can be dragged
        # anywhere and zooming about the cursor is never stopped by the scroll range.
        if self._pyramid is None:
            self.setSceneRect(QRectF(-0.5, -0.5, 1, 1))
            return
        rows, cols = self._pyramid.shapes[0]
        vp = self.viewport()
        margin = max(vp.width(), vp.height(), 1) / self.zoom_limits()[0]
        self.setSceneRect(QRectF(-0.5, -0.5, cols, rows).adjusted(-margin, -margin, margin, margin))

    # -- events ----------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._update_scene_rect()
        if self._fitted:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        delta = event.angleDelta().y()
        if self._pyramid is None or delta == 0:
            event.ignore()
            return
        # angleDelta is in eighths of a degree; 120 is one notch (touchpads send fractions)
        self.set_zoom(self.zoom() * self.ZOOM_STEP ** (delta / 120.0), anchor=event.position())
        self._pointer_moved(event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        button = event.button()
        pos = event.position()
        self._drop_stale_gesture(event)
        if self._gesture is not None:          # a second button during a gesture
            event.accept()
            return
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_down):
            self._begin(_Gesture.PAN, button, pos, Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if button == Qt.MouseButton.RightButton and self._pyramid is not None:
            self._begin(_Gesture.WINDOW, button, pos, Qt.CursorShape.SizeAllCursor)
            event.accept()
            return
        if button == Qt.MouseButton.LeftButton:
            self._left_press(event, double=False)
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        # Qt 6 sends the second press and then this event; a bare double click (Qt 5 style, or
        # synthetic) counts as the press.
        self._drop_stale_gesture(event)
        if self._gesture is _Gesture.ITEM:
            super().mouseDoubleClickEvent(event)      # the item that took the press gets it
        elif self._gesture is not None:
            event.accept()
        elif event.button() == Qt.MouseButton.LeftButton and not self._space_down:
            self._left_press(event, double=True)
        else:
            self.mousePressEvent(event)

    def _drop_stale_gesture(self, event: QMouseEvent) -> None:
        """End a gesture whose release never reached us (its button is up, or pressed anew)."""
        g = self._gesture
        if g is None:
            return
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress:
            stale = event.button() == self._gesture_button
        elif kind == QEvent.Type.MouseMove:
            stale = not (event.buttons() & self._gesture_button)
        else:
            return
        if stale:
            log.debug("ending a %s gesture whose release was lost", g.name)
            if g is _Gesture.LEFT:
                p = self.map_to_image(event.position())
                self.leftReleased.emit(p.x(), p.y(), event.modifiers())
            self._end_gesture()

    def _left_press(self, event: QMouseEvent, double: bool) -> None:
        if self._mode is InteractionMode.ITEMS_FIRST:
            if double:
                super().mouseDoubleClickEvent(event)
            else:
                super().mousePressEvent(event)
            if self._scene.mouseGrabberItem() is not None:
                self._gesture, self._gesture_button = _Gesture.ITEM, Qt.MouseButton.LeftButton
                self._item.hold(True)
                return
        self._gesture, self._gesture_button = _Gesture.LEFT, Qt.MouseButton.LeftButton
        self._item.hold(True)
        p = self.map_to_image(event.position())
        self.leftPressed.emit(p.x(), p.y(), event.modifiers())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        pos = event.position()
        self._drop_stale_gesture(event)
        g = self._gesture
        if g is _Gesture.PAN:
            h0, v0 = self._press_scroll
            self.horizontalScrollBar().setValue(h0 - round(pos.x() - self._press_pos.x()))
            self.verticalScrollBar().setValue(v0 - round(pos.y() - self._press_pos.y()))
        elif g is _Gesture.WINDOW:
            c0, w0 = self._press_window
            dx, dy = pos.x() - self._press_pos.x(), pos.y() - self._press_pos.y()
            self.set_window(c0 + dy * w0 / self.WL_DRAG_PX, w0 * 2.0 ** (dx / self.WL_DRAG_PX))
        elif g is _Gesture.LEFT:
            p = self.map_to_image(pos)
            self.leftDragged.emit(p.x(), p.y(), event.modifiers())
            event.accept()
        else:
            super().mouseMoveEvent(event)      # item drags and hover
        self._pointer_moved(pos)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        g = self._gesture
        if g is None or event.button() != self._gesture_button:
            if g is None or g is _Gesture.ITEM:
                super().mouseReleaseEvent(event)
            event.accept()
            return
        if g is _Gesture.LEFT:
            p = self.map_to_image(event.position())
            self.leftReleased.emit(p.x(), p.y(), event.modifiers())
        elif g is _Gesture.ITEM:
            super().mouseReleaseEvent(event)
        self._end_gesture()
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat() and not self._space_down:
                self._space_down = True
                if self._gesture is None:
                    self._set_temporary_cursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_down = False
                if self._gesture is None:
                    self._restore_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 (Qt API)
        # a space released in another window would otherwise leave pan mode stuck on
        if self._space_down:
            self._space_down = False
            if self._gesture is None:
                self._restore_cursor()
        super().focusOutEvent(event)

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Leave:
            self._loupe.hide()
            self.cursorMoved.emit(-1.0, -1.0)
        return super().viewportEvent(event)

    # -- gesture helpers -------------------------------------------------------------------

    def _begin(self, gesture: _Gesture, button: Qt.MouseButton, pos: QPointF, cursor: Qt.CursorShape) -> None:
        self._gesture, self._gesture_button = gesture, button
        self._press_pos = QPointF(pos)
        self._press_scroll = (self.horizontalScrollBar().value(), self.verticalScrollBar().value())
        self._press_window = self.window()
        self._fitted = self._fitted and gesture is not _Gesture.PAN
        self._set_temporary_cursor(cursor)

    def dragging(self) -> bool:
        """A left-button drag is in progress (a landmark, a hinge, a tool's points)."""
        return self._gesture in (_Gesture.ITEM, _Gesture.LEFT)

    def _end_gesture(self) -> None:
        was_drag = self.dragging()
        self._gesture = None
        self._item.hold(False)
        if was_drag:
            self.dragFinished.emit()
        self._gesture_button = Qt.MouseButton.NoButton
        if self._space_down:
            self._set_temporary_cursor(Qt.CursorShape.OpenHandCursor)
        else:
            self._restore_cursor()

    def _set_temporary_cursor(self, shape: Qt.CursorShape) -> None:
        vp = self.viewport()
        if self._saved_cursor is None:
            self._saved_cursor = vp.cursor()
        vp.setCursor(shape)

    def _restore_cursor(self) -> None:
        if self._saved_cursor is not None:
            self.viewport().setCursor(self._saved_cursor)
            self._saved_cursor = None

    def _pointer_moved(self, pos: QPointF) -> None:
        """Report the image point under the cursor and move the loupe."""
        p = self.map_to_image(pos)
        pyr = self._pyramid
        inside = False
        if pyr is not None:
            rows, cols = pyr.shapes[0]
            inside = -0.5 <= p.x() < cols - 0.5 and -0.5 <= p.y() < rows - 0.5
        if inside:
            self.cursorMoved.emit(p.x(), p.y())
        else:
            self.cursorMoved.emit(-1.0, -1.0)
        if self._loupe_enabled and pyr is not None and self.viewport().rect().contains(pos.toPoint()):
            self._loupe.follow(pos, p)
            self._loupe.show()
        else:
            self._loupe.hide()

    # -- internals -------------------------------------------------------------------------

    def _valid_width(self, width: float) -> float:
        width = float(width)
        if self._is_float:
            return width if width > 0 and math.isfinite(width) else 1e-12
        return max(1.0, width) if math.isfinite(width) else 1.0

    def _auto_window_values(self) -> tuple[float, float]:
        assert self._pyramid is not None
        _, sample = self._pyramid.available_level(self._pyramid.n_levels - 1)
        c, w = auto_window(sample)
        return (c, self._valid_width(w))

    def _picture_changed(self) -> None:
        self._item.invalidate()
        if self._loupe.isVisible():
            self._loupe.update()

    def _start_build(self, pyramid: ImagePyramid) -> None:
        signals = _BuildSignals()
        signals.levelReady.connect(self._on_level_ready)
        signals.finished.connect(self._on_build_finished)
        self._builds[id(pyramid)] = signals

        def report(signal: SignalInstance, *args: object) -> None:
            try:
                signal.emit(*args)
            except RuntimeError:      # the view, and with it the receiver, is gone
                pyramid.cancel()

        def work() -> None:
            ok = False
            try:
                ok = pyramid.build(on_level=lambda k: report(signals.levelReady, pyramid, k))
            except Exception:  # a worker must not die silently
                log.exception("building the film pyramid failed")
            report(signals.finished, pyramid, ok)

        # Started from the event loop, after the first frame has had its chance to paint: on two
        # cores the build's memory traffic would otherwise slow that frame down.
        def start() -> None:
            if not pyramid.cancelled:
                QThreadPool.globalInstance().start(work)

        QTimer.singleShot(0, self, start)   # with the view as context: dropped if the view dies

    def _cancel_build(self) -> None:
        if self._pyramid is not None and not self._pyramid.complete:
            self._pyramid.cancel()

    def _on_level_ready(self, pyramid: ImagePyramid, k: int) -> None:
        if pyramid is not self._pyramid:
            return
        # repaint only if the new level is the one the current zoom now draws from
        dpr = self.viewport().devicePixelRatioF()
        if pyramid.available_level(pyramid.level_for_scale(self.zoom() * dpr))[0] == k:
            self._picture_changed()

    def _on_build_finished(self, pyramid: ImagePyramid, ok: bool) -> None:
        self._builds.pop(id(pyramid), None)
        if pyramid is self._pyramid and ok:
            self.pyramidReady.emit()
