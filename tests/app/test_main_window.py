"""The viewer and the guided workflow, driven through the real widgets with qtbot."""
from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from measurements.case import Case, load_case
from measurements.landmarks import LANDMARK_NAMES, Side
from measurements.measure import measure_case
from measurements.present import TABLE_KEYS, format_value

from .conftest import assert_screen_matches_a_full_repaint, open_and_wait, screenshot


def click_image(qtbot, window, x: float, y: float, zoom: float = 4.0, modifier=Qt.NoModifier) -> QPoint:
    """Zoom to `zoom` around image point (x, y) and click it with the left button."""
    view = window.view
    view.set_zoom(zoom)
    view.centerOn(x, y)
    pos = view.map_from_image(x, y).toPoint()
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, modifier, pos)
    return pos


def test_place_every_landmark_by_clicking(qtbot, window, small_demo, ground_truth):
    film, _case = small_demo
    open_and_wait(qtbot, window, film)
    screenshot(window, "1-film-loaded")
    truth = ground_truth["limbs"]
    for side in (Side.RIGHT, Side.LEFT):
        for name in LANDMARK_NAMES:
            step = window.workflow.current
            assert (step.side, step.name) == (side, name)  # the guide leads in clinical order
            x, y = truth[str(side)]["landmarks"][name]
            click_image(qtbot, window, x, y)
    assert window.workflow.remaining(window.doc.case) == []
    assert "All landmarks are placed" in window.steps_panel.prompt.text()
    # every landmark sits where it was clicked (a click is exact to 1/8 pixel at zoom 4)
    for side in (Side.RIGHT, Side.LEFT):
        for name in LANDMARK_NAMES:
            placed = window.doc.case.limbs[side].landmarks[name]
            want = truth[str(side)]["landmarks"][name]
            assert placed == pytest.approx(want, abs=0.2), name
    # the panel shows exactly what the engine computes on the same case ...
    result = measure_case(window.doc.case)
    for side in (Side.RIGHT, Side.LEFT):
        for key in TABLE_KEYS:
            assert window.measure_panel.value_text(side, key) == format_value(key, result.limbs[side]), key
    # ... and that is the ground truth of the film, within click precision
    truth_result = measure_case(Case.from_dict(ground_truth))
    for key in ("mpta_deg", "mldfa_deg", "ldta_deg", "mlpfa_deg", "mfta_deg"):
        assert result.limbs[Side.RIGHT].values[key] == pytest.approx(truth_result.limbs[Side.RIGHT].values[key], abs=0.2)
    assert result.limbs[Side.RIGHT].mat["tibia"] == "varus"
    assert "of tibial origin" in window.measure_panel.mat[Side.RIGHT].text()
    assert window.measure_panel.flag_shown(Side.RIGHT, "mpta_deg")
    window.view.fit()
    screenshot(window, "3-both-limbs-placed")


def assert_panel_equals_engine(window) -> None:
    result = measure_case(window.doc.case)
    for side in (Side.RIGHT, Side.LEFT):
        limb = result.limbs.get(side)
        for key in TABLE_KEYS:
            assert window.measure_panel.value_text(side, key) == (format_value(key, limb) if limb else ""), key


def test_undo_redo_of_each_edit(qtbot, window, small_demo, ground_truth):
    film, _ = small_demo
    open_and_wait(qtbot, window, film)
    x, y = ground_truth["limbs"]["right"]["landmarks"]["femoral_head_center"]
    click_image(qtbot, window, x, y)
    doc = window.doc
    assert doc.undo_stack.undoText() == "Place right femoral head centre"
    assert window.undo_action.text() == "&Undo Place right femoral head centre"

    # drag the landmark: many mouse moves, one undo step
    view = window.view
    start = view.map_from_image(x, y).toPoint()
    qtbot.mousePress(view.viewport(), Qt.LeftButton, Qt.NoModifier, start)
    for i in range(1, 9):
        qtbot.mouseMove(view.viewport(), start + QPoint(4 * i, 2 * i))
    qtbot.mouseRelease(view.viewport(), Qt.LeftButton, Qt.NoModifier, start + QPoint(32, 16))
    moved = doc.landmark(Side.RIGHT, "femoral_head_center")
    assert moved == pytest.approx((x + 32 / 4.0, y + 16 / 4.0), abs=0.3)
    # the panel follows a drag at most every 80 ms, and shows the final values when it ends
    assert_panel_equals_engine(window)
    assert doc.undo_stack.count() == 2 and doc.undo_stack.undoText() == "Move right femoral head centre"

    # nudge with the arrow keys: 1 pixel, Shift for 10
    item = window.landmark_items[(Side.RIGHT, "femoral_head_center")]
    assert item.isSelected() and item.hasFocus()
    qtbot.keyClick(view.viewport(), Qt.Key_Right)
    qtbot.keyClick(view.viewport(), Qt.Key_Down, Qt.ShiftModifier)
    assert doc.landmark(Side.RIGHT, "femoral_head_center") == pytest.approx((moved[0] + 1, moved[1] + 10))

    # delete it
    qtbot.keyClick(view.viewport(), Qt.Key_Delete)
    assert doc.landmark(Side.RIGHT, "femoral_head_center") is None
    assert doc.undo_stack.undoText() == "Delete right femoral head centre"

    # calibration is an edit too
    ball = ground_truth["ground_truth"]["calibration_ball_px"]
    window.apply_ball_calibration(_circle_points(ball), 25.0)
    assert doc.case.calibration_source == "marker"
    assert doc.case.pixel_spacing_mm == pytest.approx((0.6, 0.6), rel=0.02)

    # undo everything in order, then redo everything
    window.undo_action.trigger()
    assert doc.case.calibration_source == "PixelSpacing"
    window.undo_action.trigger()
    assert doc.landmark(Side.RIGHT, "femoral_head_center") is not None  # delete undone
    for _ in range(10):
        window.undo_action.trigger()
    assert doc.landmark(Side.RIGHT, "femoral_head_center") is None
    assert not doc.modified
    while doc.undo_stack.canRedo():
        window.redo_action.trigger()
    assert doc.landmark(Side.RIGHT, "femoral_head_center") is None
    assert doc.case.calibration_source == "marker"
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert doc.landmark(Side.RIGHT, "femoral_head_center") == pytest.approx((moved[0] + 1, moved[1] + 10))


def _circle_points(ball: dict) -> list[tuple[float, float]]:
    import math

    cx, cy = ball["center"] if "center" in ball else (ball["x"], ball["y"])
    r = ball["diameter_mm"] / 2.0 / 0.6 if "diameter_mm" in ball else ball["radius_px"]
    return [(cx + r * math.cos(t), cy + r * math.sin(t)) for t in (0.3, 1.4, 2.9, 4.2, 5.5)]


def test_head_from_contour_places_centre_and_top(qtbot, window, small_demo, ground_truth):
    import math

    film, _ = small_demo
    open_and_wait(qtbot, window, film)
    cx, cy = ground_truth["limbs"]["right"]["landmarks"]["femoral_head_center"]
    r = 23.0 / 0.6
    window.start_head_tool()
    for t in (3.0, 3.6, 4.2, 4.8, 5.4):  # the upper part of the head, as a reader clicks it
        x, y = cx + r * math.cos(t), cy + r * math.sin(t)
        window.view.set_zoom(4.0)
        window.view.centerOn(x, y)
        pos = window.view.map_from_image(x, y).toPoint()
        qtbot.mouseClick(window.view.viewport(), Qt.LeftButton, Qt.NoModifier, pos)
    qtbot.keyClick(window, Qt.Key_Return)
    doc = window.doc
    center = doc.landmark(Side.RIGHT, "femoral_head_center")
    assert center == pytest.approx((cx, cy), abs=1.0)
    assert doc.landmark(Side.RIGHT, "femoral_head_top") == pytest.approx((cx, cy - r), abs=1.0)
    assert doc.undo_stack.undoText() == "Fit right femoral head"

    # the fitted circle has a handle on its edge: drag it outward and the circle grows, centre fixed
    handle = window.head_handles[Side.RIGHT]
    assert handle.isVisible()
    fitted = window.head_items[Side.RIGHT].circle
    assert fitted[2] == pytest.approx(r, abs=1.0) and (handle.pos().x(), handle.pos().y()) == pytest.approx(
        (fitted[0] + fitted[2], fitted[1]))
    view = window.view
    view.set_zoom(2.0)
    view.centerOn(handle.pos())
    start = view.map_from_image(handle.pos().x(), handle.pos().y()).toPoint()
    qtbot.mousePress(view.viewport(), Qt.LeftButton, Qt.NoModifier, start)
    for i in range(1, 6):
        qtbot.mouseMove(view.viewport(), start + QPoint(4 * i, 0))
    qtbot.mouseRelease(view.viewport(), Qt.LeftButton, Qt.NoModifier, start + QPoint(20, 0))
    grown = window.head_items[Side.RIGHT].circle
    assert grown[2] == pytest.approx(fitted[2] + 20 / 2.0, abs=0.6)  # 20 screen px at zoom 2
    assert grown[3] == pytest.approx(grown[2])  # square pixels: still a circle
    assert doc.landmark(Side.RIGHT, "femoral_head_center") == pytest.approx(center)
    assert doc.undo_stack.undoText() == "Resize right femoral head circle"  # one entry for the drag
    window.undo_action.trigger()
    assert window.head_items[Side.RIGHT].circle[2] == pytest.approx(fitted[2])
    window.undo_action.trigger()  # one step undoes the whole fit
    assert doc.landmark(Side.RIGHT, "femoral_head_center") is None
    assert doc.landmark(Side.RIGHT, "femoral_head_top") is None


def test_save_and_open_round_trip(qtbot, window, small_demo, ground_truth, tmp_path, monkeypatch):
    film, _ = small_demo
    open_and_wait(qtbot, window, film)
    for name in ("femoral_head_center", "knee_center", "ankle_center"):
        click_image(qtbot, window, *ground_truth["limbs"]["right"]["landmarks"][name], zoom=1.0)
    target = tmp_path / "saved" / "mine.case.json"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    assert window.save_as()
    assert not window.doc.modified
    saved = load_case(target)
    assert saved.limbs[Side.RIGHT].landmarks == window.doc.case.limbs[Side.RIGHT].landmarks
    assert (target.parent / saved.image["path"]).resolve() == film.resolve()  # film path relative to the case
    assert saved.pixel_spacing_mm == (0.6, 0.6) and saved.calibration_source == "PixelSpacing"

    window.doc.undo_stack.setClean()
    window.open_path(target)
    qtbot.waitUntil(lambda: window.doc.case_path == target, timeout=60000)
    assert window.doc.case.limbs[Side.RIGHT].landmarks == saved.limbs[Side.RIGHT].landmarks
    assert "mine.case.json" in window.windowTitle()


def test_case_that_does_not_match_its_film_changes_nothing(qtbot, window, small_demo, tmp_path, monkeypatch):
    film, case_path = small_demo
    open_and_wait(qtbot, window, film)
    click_image(qtbot, window, 300, 400, zoom=1.0)
    before = window.doc.case.to_dict()
    data = json.loads(case_path.read_text())
    data["image"]["rows"] = 999
    data["image"]["path"] = str(film)
    other = tmp_path / "other.case.json"
    other.write_text(json.dumps(data))
    messages = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text, *a: messages.append(text))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)  # "discard my changes?"
    with qtbot.waitSignal(window.filmFailed, timeout=60000):
        window.open_path(other)
    assert "does not match its film" in messages[0]
    assert window.doc.case.to_dict() == before


@pytest.mark.parametrize("content", [b"not a film at all", b"DICM" * 10, b""])
def test_refused_film_shows_a_message_and_keeps_the_work(qtbot, window, small_demo, tmp_path, monkeypatch, content):
    film, _ = small_demo
    open_and_wait(qtbot, window, film)
    click_image(qtbot, window, 300, 400, zoom=1.0)
    before = window.doc.case.to_dict()
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(content)
    messages = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text, *a: messages.append(text))
    with qtbot.waitSignal(window.filmFailed, timeout=60000):
        window.open_film(bad, ask=False)
    assert messages and messages[0].startswith("broken.dcm could not be opened:")
    assert "Traceback" not in messages[0]
    assert window.doc.case.to_dict() == before
    assert window.doc.film_path == film


def test_recovery_after_a_crash(qtbot, small_demo, ground_truth, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    from deformity_app.gui.main_window import MainWindow
    from deformity_app.recovery import RecoveryFile

    film, case_path = small_demo
    # a session that died: its recovery file names a process that no longer runs
    crashed = RecoveryFile(pid=2**22 + 12345)
    work = Case.from_dict(ground_truth)
    crashed.write(work, film, None)
    assert crashed.path.exists()

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.filmLoaded, timeout=60000):
        assert w.offer_recovery()
    assert w.doc.case.limbs[Side.RIGHT].landmarks == work.limbs[Side.RIGHT].landmarks
    assert w.doc.modified  # restored work is unsaved work
    assert not crashed.path.exists()
    assert w.recovery.path.exists()  # and it is protected again by this session's recovery file
    w.doc.undo_stack.setClean()
    w.close()
    assert not w.recovery.path.exists()  # a clean exit leaves nothing to recover


def test_autosave_follows_every_edit(qtbot, window, small_demo, ground_truth):
    film, _ = small_demo
    open_and_wait(qtbot, window, film)
    x, y = ground_truth["limbs"]["left"]["landmarks"]["knee_center"]
    window.doc.place_landmark(Side.LEFT, "knee_center", (x, y))
    qtbot.waitUntil(lambda: window.recovery.path.exists(), timeout=5000)
    saved = json.loads(window.recovery.path.read_text())
    assert saved["case"]["limbs"]["left"]["landmarks"]["knee_center"] == [x, y]
    assert saved["film_path"] == str(film)


def test_screenshots_of_the_main_states(qtbot, window, small_demo, ground_truth):
    """Writes the main states to test-output/screenshots for review (and checks they were drawn)."""
    assert screenshot(window, "0-empty").stat().st_size > 1000
    film, case_path = small_demo
    right_only = json.loads(json.dumps(ground_truth))
    del right_only["limbs"]["left"]
    window.steps_panel.sides.setCurrentIndex(1)  # "Right limb"
    assert window.workflow.sides == (Side.RIGHT,)
    open_and_wait(qtbot, window, film, Case.from_dict(right_only), case_path)
    assert window.measure_panel.value_text(Side.LEFT, "mpta_deg") == ""
    assert window.measure_panel.value_text(Side.RIGHT, "mpta_deg").endswith("°")
    assert screenshot(window, "2-right-limb-placed").stat().st_size > 1000


def test_export_dicom_results_to_a_folder(qtbot, window, small_demo, ground_truth, tmp_path):
    import pydicom

    film, case_path = small_demo
    open_and_wait(qtbot, window, film, Case.from_dict(ground_truth), case_path)
    paths = window.export_dicom(tmp_path / "out")
    kinds = sorted(p.name.split(".")[-2] for p in paths)
    assert len(paths) == 4 and all(p.exists() for p in paths)
    source = pydicom.dcmread(film, stop_before_pixels=True)
    for path in paths:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert ds.StudyInstanceUID == source.StudyInstanceUID  # in the film's study
        assert ds.SeriesInstanceUID != source.SeriesInstanceUID  # each in a new series
        assert ds.PatientID == source.PatientID
    assert kinds == sorted(kinds) and len(set(kinds)) == 4


def test_panel_follows_a_landmark_drag_and_the_painted_view_matches_a_full_repaint(qtbot, window, small_demo):
    """The drag path repaints only what changed and refreshes the panel at most every 80 ms: after
    the drag the panel shows the engine's values on the moved case, and the viewport as painted step
    by step is pixel for pixel what a repaint from scratch gives."""
    film, case_path = small_demo
    open_and_wait(qtbot, window, film, load_case(case_path), case_path)
    view = window.view
    view.fit()
    qtbot.wait(50)
    before = window.measure_panel.value_text(Side.RIGHT, "mldfa_deg")
    x, y = window.doc.landmark(Side.RIGHT, "knee_center")
    start = view.map_from_image(x, y).toPoint()
    qtbot.mousePress(view.viewport(), Qt.LeftButton, Qt.NoModifier, start)
    for i in range(1, 9):
        qtbot.mouseMove(view.viewport(), start + QPoint(2 * i, i))
        qtbot.wait(5)  # let Qt paint each step the way it does for a user
    qtbot.mouseRelease(view.viewport(), Qt.LeftButton, Qt.NoModifier, start + QPoint(16, 8))
    assert window.doc.landmark(Side.RIGHT, "knee_center") != (x, y)
    assert window.measure_panel.value_text(Side.RIGHT, "mldfa_deg") != before
    assert_panel_equals_engine(window)
    assert_screen_matches_a_full_repaint(qtbot, view.viewport())



def test_no_two_entries_of_a_menu_share_a_keyboard_letter(window):
    """Alt+letter must reach each entry: a letter used twice in one menu only cycles between them."""
    import re

    from PySide6.QtWidgets import QMenu

    def menus(menu: QMenu):
        yield menu
        for action in menu.actions():
            if action.menu() is not None:
                yield from menus(action.menu())

    checked = 0
    for top in window.menuBar().actions():
        for menu in menus(top.menu()):
            letters = [m.group(1).lower() for a in menu.actions() if (m := re.search(r"&([^&])", a.text()))]
            assert len(letters) == len(set(letters)), (menu.title(), sorted(letters))
            checked += len(letters)
    assert checked > 20


def test_recovery_file_only_while_there_is_unsaved_work(qtbot, window, small_demo, ground_truth):
    """Opening a film is no work to recover; a landmark is; undoing it (or saving) is back to none,
    so a crash after a session without edits does not ask to restore anything."""
    film, _ = small_demo
    open_and_wait(qtbot, window, film)
    qtbot.wait(500)  # longer than the autosave delay
    assert not window.recovery.path.exists()
    click_image(qtbot, window, *ground_truth["limbs"]["right"]["landmarks"]["knee_center"])
    qtbot.waitUntil(window.recovery.path.exists, timeout=5000)
    window.undo_action.trigger()
    assert not window.recovery.path.exists()
    qtbot.wait(500)
    assert not window.recovery.path.exists()

