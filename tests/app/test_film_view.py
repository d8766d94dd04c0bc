"""FilmView driven through real Qt events; painted output checked on grabbed viewport pixels."""
import math

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPen, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QGraphicsEllipseItem, QGraphicsItem

from deformity_app.gui.film_view import FilmView, InteractionMode

L, M, R = Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton
NOB = Qt.MouseButton.NoButton
NOMOD = Qt.KeyboardModifier.NoModifier


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------

def dicom_linear(x: float, c: float, w: float) -> int:
    """PS3.3 C.11.2.1.2 LINEAR window to 0..255 (independent of the code under test)."""
    if x <= c - 0.5 - (w - 1) / 2:
        return 0
    if x > c - 0.5 + (w - 1) / 2:
        return 255
    return round(((x - (c - 0.5)) / (w - 1) + 0.5) * 255)


def mouse(view: FilmView, kind: QEvent.Type, pos, button=NOB, buttons=NOB, modifiers=NOMOD) -> None:
    """Send a real QMouseEvent to the viewport, as the window system would."""
    vp = view.viewport()
    p = QPointF(pos)
    ev = QMouseEvent(kind, p, vp.mapToGlobal(p), button, buttons, modifiers)
    QApplication.sendEvent(vp, ev)


def drag(view: FilmView, button, start, end, steps: int = 5, modifiers=NOMOD) -> None:
    """Press at ``start``, move in steps to ``end``, release."""
    start, end = QPointF(start), QPointF(end)
    mouse(view, QEvent.Type.MouseButtonPress, start, button, button, modifiers)
    for s in range(1, steps + 1):
        mouse(view, QEvent.Type.MouseMove, start + (end - start) * (s / steps), NOB, button, modifiers)
    mouse(view, QEvent.Type.MouseButtonRelease, end, button, NOB, modifiers)


def wheel(view: FilmView, pos, notches: float) -> None:
    """One wheel event of ``notches`` (120 eighths of a degree each) at viewport ``pos``."""
    vp = view.viewport()
    p = QPointF(pos)
    ev = QWheelEvent(p, vp.mapToGlobal(p), QPoint(0, 0), QPoint(0, round(120 * notches)), NOB, NOMOD,
                     Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(vp, ev)


def grab(view: FilmView) -> np.ndarray:
    """The viewport as painted, an HxWx3 uint8 RGB array."""
    img = view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return a[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def grey_at(view: FilmView, x: float, y: float) -> int:
    """Painted grey at image point (x, y)."""
    p = view.map_from_image(x, y)
    rgb = grab(view)[int(p.y()), int(p.x())]
    assert rgb[0] == rgb[1] == rgb[2], rgb
    return int(rgb[0])


@pytest.fixture
def view(qtbot):
    v = FilmView()
    v.resize(400, 300)
    qtbot.addWidget(v)
    v.show()
    qtbot.waitExposed(v)
    return v


def make_film(rows: int = 300, cols: int = 200) -> np.ndarray:
    """uint16 film: 3000 background, a 1000 block at rows 100..199 x cols 50..149, a gradient row band."""
    film = np.full((rows, cols), 3000, np.uint16)
    film[100:200, 50:150] = 1000
    film[250:, :] = (np.arange(cols) * 20).astype(np.uint16)[None, :]
    return film


# ------------------------------------------------------------------------------------------------
# zoom, pan, fit
# ------------------------------------------------------------------------------------------------

def test_fit_shows_whole_film(view):
    view.set_film(make_film())
    vp = view.viewport().rect()
    for x, y in [(-0.5, -0.5), (199.5, -0.5), (-0.5, 299.5), (199.5, 299.5)]:
        p = view.map_from_image(x, y)
        assert -0.01 <= p.x() <= vp.width() + 0.01 and -0.01 <= p.y() <= vp.height() + 0.01
    # the limiting side (rows: 300 px film in a 300 px viewport) nearly fills the viewport
    top, bottom = view.map_from_image(0, -0.5).y(), view.map_from_image(0, 299.5).y()
    assert bottom - top >= vp.height() - 2.01
    assert view.zoom() == pytest.approx(view.fit_zoom())
    # painted: film grey at the centre, background outside the film's columns
    img = grab(view)
    assert img[vp.height() // 2, vp.width() // 2, 0] > 0
    assert img[vp.height() // 2, 2, 0] == 0


def test_fit_follows_resize(view, qtbot):
    view.set_film(make_film())
    view.resize(600, 500)
    qtbot.waitUntil(lambda: view.viewport().height() == 500)
    assert view.zoom() == pytest.approx((500 - 2) / 300)


def test_wheel_zoom_keeps_point_under_cursor(view):
    view.set_film(make_film())
    for pos, notches in [(QPointF(123.0, 77.0), 1), (QPointF(300.0, 250.0), 3), (QPointF(10.0, 290.0), -2),
                         (QPointF(200.0, 150.0), 0.5)]:
        before = view.map_to_image(pos)
        z0 = view.zoom()
        wheel(view, pos, notches)
        assert view.zoom() == pytest.approx(z0 * 2 ** (notches / 4))
        after = view.map_from_image(before.x(), before.y())
        # within one screen pixel (scroll positions are whole pixels)
        assert abs(after.x() - pos.x()) <= 1.0 and abs(after.y() - pos.y()) <= 1.0
        assert abs(view.map_to_image(pos).x() - before.x()) * view.zoom() <= 1.0


def test_zoom_limits_and_signal(view, qtbot):
    view.set_film(make_film())
    fit = view.fit_zoom()
    with qtbot.waitSignal(view.zoomChanged) as blocker:
        wheel(view, QPointF(200, 150), 1)
    assert blocker.args[0] == pytest.approx(fit * 2 ** 0.25)
    for _ in range(40):
        wheel(view, QPointF(200, 150), 1)
    assert view.zoom() == pytest.approx(32.0)
    for _ in range(80):
        wheel(view, QPointF(200, 150), -1)
    assert view.zoom() == pytest.approx(fit / 4)


def test_one_to_one_keeps_centre(view):
    view.set_film(make_film())
    centre = QPointF(view.viewport().width() / 2, view.viewport().height() / 2)
    before = view.map_to_image(centre)
    view.one_to_one()
    assert view.zoom() == 1.0
    after = view.map_to_image(centre)
    assert abs(after.x() - before.x()) <= 1 and abs(after.y() - before.y()) <= 1


def test_middle_drag_pans_by_dragged_amount(view):
    view.set_film(make_film())
    view.set_zoom(2.0)
    start, end = QPointF(100, 100), QPointF(170, 60)
    grabbed = view.map_to_image(start)
    drag(view, M, start, end)
    now = view.map_from_image(grabbed.x(), grabbed.y())
    assert abs(now.x() - end.x()) <= 1 and abs(now.y() - end.y()) <= 1


def test_space_left_drag_pans_and_emits_nothing(view, qtbot):
    view.set_film(make_film())
    view.set_zoom(2.0)
    pressed = []
    view.leftPressed.connect(lambda *a: pressed.append(a))
    start, end = QPointF(200, 150), QPointF(150, 200)
    grabbed = view.map_to_image(start)
    view.setFocus()
    QTest.keyPress(view, Qt.Key.Key_Space)
    drag(view, L, start, end)
    QTest.keyRelease(view, Qt.Key.Key_Space)
    now = view.map_from_image(grabbed.x(), grabbed.y())
    assert abs(now.x() - end.x()) <= 1 and abs(now.y() - end.y()) <= 1
    assert pressed == []
    # without space a left drag is a left gesture again
    drag(view, L, start, end)
    assert len(pressed) == 1


# ------------------------------------------------------------------------------------------------
# window / level, painted grey
# ------------------------------------------------------------------------------------------------

def test_right_drag_changes_window_in_expected_direction(view, qtbot):
    view.set_film(make_film(), window=(2000, 1000))
    c0, w0 = view.window()
    with qtbot.waitSignal(view.windowChanged):
        drag(view, R, QPointF(100, 100), QPointF(250, 100))      # right: wider
    c1, w1 = view.window()
    assert c1 == pytest.approx(c0) and w1 == pytest.approx(w0 * 2 ** (150 / 300))
    drag(view, R, QPointF(100, 100), QPointF(100, 160))          # down: higher centre
    c2, w2 = view.window()
    assert w2 == pytest.approx(w1) and c2 == pytest.approx(c1 + 60 * w1 / 300)
    drag(view, R, QPointF(250, 200), QPointF(100, 100))          # left and up: narrower, lower
    c3, w3 = view.window()
    assert w3 < w2 and c3 < c2


def test_window_drag_sensitivity_scales_with_width(view):
    view.set_film(make_film(), window=(100, 50))
    drag(view, R, QPointF(100, 100), QPointF(100, 130))
    small = view.window()[0] - 100
    view.set_window(30000, 50000)
    drag(view, R, QPointF(100, 100), QPointF(100, 130))
    large = view.window()[0] - 30000
    assert large / small == pytest.approx(1000, rel=1e-6)


def test_painted_grey_follows_dicom_window_and_invert(view, qtbot):
    view.set_film(make_film())
    c, w = 2000.0, 4001.0
    with qtbot.waitSignal(view.windowChanged) as blocker:
        view.set_window(c, w)
    assert blocker.args == [c, w]
    assert view.window() == (c, w)
    assert grey_at(view, 100, 150) == dicom_linear(1000, c, w)      # the block
    assert grey_at(view, 20, 40) == dicom_linear(3000, c, w)        # the background
    view.set_invert(True)
    assert view.is_inverted()
    assert grey_at(view, 100, 150) == 255 - dicom_linear(1000, c, w)
    assert grey_at(view, 20, 40) == 255 - dicom_linear(3000, c, w)
    view.set_invert(False)
    view.set_window(1000, 1)                                        # threshold at 999.5
    assert grey_at(view, 100, 150) == 255 and grey_at(view, 20, 40) == 255
    view.set_window(1001, 1)
    assert grey_at(view, 100, 150) == 0


def test_window_width_is_at_least_one_for_integer_films(view):
    view.set_film(make_film())
    view.set_window(100, 0)
    assert view.window() == (100.0, 1.0)


def test_auto_window_covers_film_range(view):
    view.set_film(make_film())                   # window=None: automatic
    c, w = view.window()
    assert c - w / 2 <= 1000 and c + w / 2 >= 3000


def test_single_pixel_is_centred_on_its_coordinates_at_8x(view):
    film = np.zeros((60, 40), np.uint16)
    film[20, 10] = 4000                          # row 20, column 10: image point (x=10, y=20)
    view.set_film(film, window=(2000.5, 4000))
    view.set_zoom(8.0, anchor=view.map_from_image(10, 20))
    img = grab(view)[:, :, 0]
    ys, xs = np.nonzero(img > 128)
    assert len(xs) == 64                          # one film pixel = 8 x 8 screen pixels
    centre = QPointF(xs.mean() + 0.5, ys.mean() + 0.5)   # pixel centres of the bright block
    expected = view.map_from_image(10, 20)
    assert abs(centre.x() - expected.x()) <= 0.5 and abs(centre.y() - expected.y()) <= 0.5
    qp = view.mapFromScene(QPointF(10, 20))      # Qt's own (integer) mapping agrees
    assert abs(qp.x() - expected.x()) <= 1 and abs(qp.y() - expected.y()) <= 1


def test_pixels_exact_at_one_to_one(view):
    film = ((np.arange(200)[None, :] * 3 + np.arange(300)[:, None] * 7) % 251).astype(np.uint8)
    view.set_film(film, window=(128, 256))        # identity on 0..255
    view.one_to_one()
    img = grab(view)[:, :, 0]
    h, w = img.shape
    ys, xs = np.mgrid[0:h, 0:w]
    p0 = view.map_to_image(QPointF(0.5, 0.5))     # device pixel centres fall on pixel edges at 1:1,
    j = np.floor(xs + p0.x() + 0.5 + 1e-6).astype(int)   # and Qt settles the tie the same way everywhere
    i = np.floor(ys + p0.y() + 0.5 + 1e-6).astype(int)
    shift_ok = []
    for di in (-1, 0):
        for dj in (-1, 0):
            ii, jj = i + di, j + dj
            inside = (ii >= 0) & (ii < 300) & (jj >= 0) & (jj < 200)
            shift_ok.append(np.mean(img[inside] == film[ii[inside], jj[inside]]))
    assert max(shift_ok) == 1.0                   # every screen pixel is one film pixel, none doubled


def test_int16_signed_film(view):
    film = np.full((100, 80), -500, np.int16)
    film[:, 40:] = 700
    view.set_film(film, window=(0.5, 2001))
    assert grey_at(view, 10, 50) == dicom_linear(-500, 0.5, 2001)
    assert grey_at(view, 70, 50) == dicom_linear(700, 0.5, 2001)
    assert view.pixel_value(10, 50) == -500 and isinstance(view.pixel_value(70, 50), int)


def test_float32_film_uses_linear_exact(view):
    film = np.full((100, 80), 0.25, np.float32)
    film[:, 40:] = 0.8
    view.set_film(film, window=(0.5, 1.0))
    assert abs(grey_at(view, 10, 50) - round(((0.25 - 0.5) / 1.0 + 0.5) * 255)) <= 1
    assert abs(grey_at(view, 70, 50) - round(((0.8 - 0.5) / 1.0 + 0.5) * 255)) <= 1
    assert view.pixel_value(10, 50) == pytest.approx(0.25)
    # right drag works on a sub-unit window
    drag(view, R, QPointF(100, 100), QPointF(160, 100))
    assert view.window()[1] == pytest.approx(2 ** (60 / 300))


def test_colour_film(view):
    film = np.zeros((100, 80, 3), np.uint8)
    film[:, :, 0] = 200
    film[:, :, 2] = 50
    view.set_film(film, window=(128, 256))
    p = view.map_from_image(40, 50)
    rgb = grab(view)[int(p.y()), int(p.x())]
    assert tuple(int(v) for v in rgb) == (200, 0, 50)
    assert view.pixel_value(40, 50) == (200, 0, 50)
    view.set_invert(True)
    rgb = grab(view)[int(p.y()), int(p.x())]
    assert tuple(int(v) for v in rgb) == (55, 255, 205)


def test_clahe_changes_display_not_film(view):
    film = make_film()
    film[:100] = (3000 + 50 * np.sin(np.arange(200) / 3.0)).astype(np.uint16)[None, :]
    view.set_film(film, window=(2000, 4001))
    before = grab(view)
    view.set_clahe(True)
    assert view.clahe_enabled()
    after = grab(view)
    assert not np.array_equal(before, after)
    view.set_clahe(False)
    assert np.array_equal(grab(view), before)
    assert view.pixel_value(5, 5) == film[5, 5]


# ------------------------------------------------------------------------------------------------
# large films: preview first, pyramid in the background, cached regions
# ------------------------------------------------------------------------------------------------

def test_large_film_paints_preview_then_pyramid(view, qtbot):
    rows, cols = 3000, 1400
    film = (np.arange(rows)[:, None] + np.zeros(cols, np.uint16)[None, :]).astype(np.uint16)
    with qtbot.waitSignal(view.pyramidReady, timeout=20000):
        view.set_film(film, window=(1500.5, 3000))
        img = grab(view)                         # first frame, whatever is built by now
        assert img[:, :, 0].max() > 200
    assert view.pyramid_complete()
    pyr = view.pyramid()
    k = pyr.level_for_scale(view.zoom())
    assert k > 0 and pyr.is_built(k)
    grab(view)
    assert view.film_item().cached_region_level() == k
    # grey along the gradient matches the window at full pyramid
    for y in (500, 1500, 2500):
        assert abs(grey_at(view, 700, y) - dicom_linear(y, 1500.5, 3000)) <= 2


def test_pan_inside_cached_region_does_not_rewindow(view):
    film = np.random.default_rng(0).integers(0, 4096, (2000, 2000)).astype(np.uint16)
    view.set_film(film, window=(2048, 4096))
    view.one_to_one()
    grab(view)
    n = view.renderer.regions_computed
    drag(view, M, QPointF(200, 150), QPointF(230, 170))
    grab(view)
    assert view.renderer.regions_computed == n
    view.set_window(2000, 3000)
    grab(view)
    assert view.renderer.regions_computed == n + 1


# ------------------------------------------------------------------------------------------------
# cursor, left-button hooks, items, pixel values, loupe
# ------------------------------------------------------------------------------------------------

def test_cursor_moved_reports_image_coordinates(view, qtbot):
    view.set_film(make_film())
    view.set_zoom(2.0)
    target = view.map_from_image(33.25, 120.5)
    with qtbot.waitSignal(view.cursorMoved) as blocker:
        mouse(view, QEvent.Type.MouseMove, target)
    assert blocker.args == pytest.approx([33.25, 120.5], abs=1e-6)
    outside = view.map_from_image(-20, 120)
    with qtbot.waitSignal(view.cursorMoved) as blocker:
        mouse(view, QEvent.Type.MouseMove, outside)
    assert blocker.args == [-1.0, -1.0]


def test_left_gesture_signals_in_image_coordinates(view):
    view.set_film(make_film())
    view.set_zoom(2.0)
    events = []
    for name in ("leftPressed", "leftDragged", "leftReleased"):
        getattr(view, name).connect(lambda x, y, m, name=name: events.append((name, x, y, m)))
    a, b = view.map_from_image(50, 60), view.map_from_image(70, 65)
    drag(view, L, a, b, steps=2, modifiers=Qt.KeyboardModifier.ShiftModifier)
    names = [e[0] for e in events]
    assert names == ["leftPressed", "leftDragged", "leftDragged", "leftReleased"]
    assert events[0][1:3] == pytest.approx((50, 60), abs=1e-6)
    assert events[-1][1:3] == pytest.approx((70, 65), abs=1e-6)
    assert events[0][3] & Qt.KeyboardModifier.ShiftModifier


def test_movable_item_gets_the_gesture_first(view):
    view.set_film(make_film())
    view.set_zoom(2.0)
    item = QGraphicsEllipseItem(QRectF(-5, -5, 10, 10))
    item.setPos(100, 100)
    item.setPen(QPen(QColor(255, 0, 0)))
    item.setBrush(QColor(255, 0, 0))
    item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, True)
    view.scene().addItem(item)
    pressed = []
    view.leftPressed.connect(lambda *a: pressed.append(a))
    drag(view, L, view.map_from_image(100, 100), view.map_from_image(120, 110))
    assert pressed == []
    assert item.pos().x() == pytest.approx(120, abs=0.5) and item.pos().y() == pytest.approx(110, abs=0.5)
    # on bare film the view reports the gesture
    drag(view, L, view.map_from_image(30, 30), view.map_from_image(35, 30))
    assert len(pressed) == 1
    # SIGNALS_ONLY: the view reports even over the item, which stays put
    view.set_interaction_mode(InteractionMode.SIGNALS_ONLY)
    drag(view, L, view.map_from_image(120, 110), view.map_from_image(140, 110))
    assert len(pressed) == 2 and item.pos().x() == pytest.approx(120, abs=0.5)


def test_pixel_value(view):
    film = make_film()
    view.set_film(film)
    assert view.pixel_value(100, 150) == 1000
    assert view.pixel_value(100.49, 150.49) == 1000
    assert view.pixel_value(49.4, 150) == 3000       # column 49
    assert view.pixel_value(-0.5, 0) == 3000         # the edge belongs to pixel 0
    assert view.pixel_value(-0.6, 0) is None
    assert view.pixel_value(199.49, 299.49) == film[299, 199]
    assert view.pixel_value(199.5, 0) is None
    view.clear()
    assert view.pixel_value(10, 10) is None and view.film() is None


def test_loupe_follows_cursor_and_magnifies(view, qtbot):
    film = np.zeros((300, 200), np.uint16)
    film[:, 100:] = 4000                               # left half black, right half white
    view.set_film(film, window=(2000.5, 4000))
    view.set_loupe_enabled(True)
    assert view.loupe_enabled()
    pos = view.map_from_image(99.5, 150)                # on the edge
    mouse(view, QEvent.Type.MouseMove, pos)
    loupe = view.findChild(type(view._loupe))
    assert loupe is not None and loupe.isVisible()
    assert abs(loupe.geometry().center().x() - pos.x()) <= 1
    img = loupe.grab().toImage()
    # magnified: the black/white edge crosses the loupe's centre; left dark, right bright
    assert img.pixelColor(30, 40).red() < 30 and img.pixelColor(130, 40).red() > 220
    # crosshair drawn (yellow) above the centre
    c = img.pixelColor(80, 20)
    assert c.red() > 200 and c.green() > 150 and c.blue() < 80
    view.set_loupe_enabled(False)
    assert not loupe.isVisible()


def test_clear_and_replace_film(view, qtbot):
    view.set_film(make_film())
    view.clear()
    assert grab(view).max() == 0
    big = np.zeros((2500, 900), np.uint16)
    with qtbot.waitSignal(view.pyramidReady, timeout=20000):
        view.set_film(big)
    view.set_film(make_film())                          # replaced while nothing is pending
    assert view.film().shape == (300, 200)
    assert math.isclose(view.zoom(), view.fit_zoom())


def test_double_click_sequence_and_lost_release(view):
    view.set_film(make_film())
    events = []
    for name in ("leftPressed", "leftReleased"):
        getattr(view, name).connect(lambda x, y, m, name=name: events.append(name))
    pos = view.map_from_image(40, 40)
    T = QEvent.Type
    # what Qt 6 delivers for a double click: press, release, press, double-click, release
    for kind, buttons in [(T.MouseButtonPress, L), (T.MouseButtonRelease, NOB), (T.MouseButtonPress, L),
                          (T.MouseButtonDblClick, L), (T.MouseButtonRelease, NOB)]:
        mouse(view, kind, pos, L, buttons)
    assert events == ["leftPressed", "leftReleased"] * 2
    # a press whose release is lost does not leave the view stuck in a gesture
    events.clear()
    mouse(view, T.MouseButtonPress, pos, L, L)
    drag(view, M, QPointF(100, 100), QPointF(120, 100))    # a move without the left button ends it
    assert events == ["leftPressed", "leftReleased"]
    grabbed = view.map_to_image(QPointF(100, 100))
    drag(view, M, QPointF(100, 100), QPointF(130, 100))
    assert view.map_from_image(grabbed.x(), grabbed.y()).x() == pytest.approx(130, abs=1)
