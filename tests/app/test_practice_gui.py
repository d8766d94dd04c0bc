"""Practice mode through the real widgets: choose a key, measure it blind, submit, read the error view,
follow the progress, save a case as a key, and read an agreement study.

The expected numbers come from the engines called here on cases the tests build themselves
(`score_attempt`, `agreement`), never from the widgets under test.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QMessageBox

from deformity_app.gui.practice import ErrorArrowsItem, TintedOverlayItem, install_practice
from deformity_app.gui.workflow import Step
from deformity_app.practice_store import history_rows, load_history, mean_errors, save_attempt
from deformity_app.teaching_bank import bank_entries, ensure_bank, list_keys, read_key
from measurements.case import Case, save_case
from measurements.landmarks import LANDMARK_NAMES, Side
from measurements.scoring import blank_attempt, score_attempt

from .conftest import open_and_wait, screenshot
from .table_checks import assert_cells_fit

SPACING_MM = 0.6
KEY_ID = "proximal_tibial_varus"
OFFSET_PX = 10.0  # the knee centre is placed this far lateral of the expert's: 6.0 mm at 0.6 mm per pixel


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    return ensure_bank(tmp_path_factory.mktemp("bank"), pixel_spacing_mm=SPACING_MM)


@pytest.fixture
def practice(window, bank):
    controller = install_practice(window)
    controller.bank_folder = bank
    controller.bank_spacing_mm = SPACING_MM
    return controller


def _key(bank: Path, key_id: str):
    summary = next(k for k in list_keys(bank) if k.id == key_id)
    return read_key(summary.path)


def _click(qtbot, view, x: float, y: float, zoom: float = 8.0) -> None:
    # at 8 screen pixels per film pixel a click lands within 1/16 pixel of the point aimed at
    view.set_zoom(zoom)
    view.centerOn(QPointF(x, y))
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, Qt.NoModifier, view.map_from_image(x, y).toPoint())


def _wait_chooser(qtbot, practice):
    qtbot.waitUntil(lambda: practice.chooser is not None and practice.chooser.isVisible(), timeout=30000)
    return practice.chooser


def _sectioned_rows(table) -> dict[tuple[str, str], list[str]]:
    """(limb, first cell) -> the other cells, reading the limb from the section rows."""
    rows, limb = {}, ""
    for r in range(table.rowCount()):
        if table.columnSpan(r, 0) > 1:
            limb = table.item(r, 0).text().split()[0]
            continue
        rows[(limb, table.item(r, 0).text())] = [table.item(r, c).text() for c in range(1, table.columnCount())]
    return rows


def _table_text(table) -> str:
    return " ".join(table.item(r, c).text() for r in range(table.rowCount()) for c in range(table.columnCount())
                    if table.item(r, c) is not None)


def test_practice_session_blind_then_scored(qtbot, window, practice, bank, monkeypatch):
    key, summary = _key(bank, KEY_ID)
    expert = key.limbs[Side.RIGHT].landmarks
    assert window.menuBar().actions()[-1].text().replace("&", "") == "Help"  # the Practice menu sits before Help
    assert "Practice" in [a.text().replace("&", "") for a in window.menuBar().actions()]

    # Practice > Open teaching bank…: the bank is checked off the GUI thread, then the chooser opens
    practice.open_bank_action.trigger()
    chooser = _wait_chooser(qtbot, practice)
    assert len(chooser.visible_ids()) == 9
    chooser.level.setCurrentIndex(chooser.level.findData("advanced"))
    assert chooser.visible_ids() == ["two_level"]
    chooser.level.setCurrentIndex(0)
    # nothing of the answer before an attempt: no diagnosis, no teaching point, and no title (the bank's
    # titles name the deformity), but the level to choose by
    titles = [k.title for k in list_keys(bank)]
    shown = _table_text(chooser.table)
    assert "basic" in shown and not any(t in shown for t in titles), shown
    assert summary.diagnosis not in shown and summary.teaching_points[0] not in shown
    assert chooser.note.isVisible() and "called by number" in chooser.note.text()
    number = chooser.row_of(KEY_ID) + 1
    assert chooser.table.item(chooser.row_of(KEY_ID), 1).text() == f"Key {number}"
    qtbot.wait(50)
    screenshot(chooser, "practice-0-choose-key")
    chooser.show_titles.setChecked(True)  # a teacher may show them
    assert summary.title in _table_text(chooser.table)
    chooser.show_titles.setChecked(False)
    chooser.table.selectRow(chooser.row_of(KEY_ID))
    with qtbot.waitSignal(window.filmLoaded, timeout=60000):
        chooser.buttons.button(QDialogButtonBox.Open).click()

    # the fellow sees the film and nothing of the expert's
    session = practice.session
    assert session is not None and session.summary.id == KEY_ID
    assert practice.dock.isVisible() and practice.submit_action.isEnabled()
    case = window.doc.case
    assert not any(limb.landmarks for limb in case.limbs.values()) and "key" not in case.extra
    assert case.image["sop_instance_uid"] == key.image["sop_instance_uid"]
    expert_points = [pt for limb in key.limbs.values() for pt in limb.landmarks.values()]
    for item in window.scene.items():
        assert not isinstance(item, (ErrorArrowsItem, TintedOverlayItem))
        pos = item.scenePos()
        assert not any(abs(pos.x() - x) < 0.01 and abs(pos.y() - y) < 0.01 for x, y in expert_points)
    assert not window.overlay_item.overlay.polylines
    # nothing the fellow can see names the deformity: the dock, the window title, the recent files, the
    # status bar, and the film's own descriptions and comments
    assert practice.panel.title.text() == f"Key {number}"
    revealing = ("varus", "valgus", "tibial", "femoral", "malalign", "discrepancy", KEY_ID, KEY_ID.replace("_", "-"))
    seen = {
        "dock": practice.panel.title.text() + " " + practice.panel.status.text(),
        "window title": window.windowTitle(),
        "recent files": " ".join(window.settings.value("recent", []) or []),
        "status bar": window.statusBar().currentMessage(),
        "film file": summary.film_path.name + " " + window.doc.film_path.name,
    }
    film = pydicom.dcmread(window.doc.film_path, stop_before_pixels=True)
    seen["film metadata"] = " ".join(str(film.get(name, "")) for name in (
        "StudyDescription", "SeriesDescription", "ImageComments", "ProtocolName", "PerformedProcedureStepDescription"))
    for where, text in seen.items():
        assert not any(word.lower() in text.lower() for word in revealing), (where, text)
    qtbot.wait(50)
    screenshot(window, "practice-0b-session-before-submit")

    # measure the right limb with the guided steps: every point at the expert's but the knee centre
    for name in LANDMARK_NAMES:
        assert window.workflow.current == Step(Side.RIGHT, name)
        x, y = expert[name]
        _click(qtbot, window.view, x + (OFFSET_PX if name == "knee_center" else 0.0), y)
    placed = window.doc.case.limbs[Side.RIGHT].landmarks
    assert len(placed) == 16
    assert placed["knee_center"][0] - expert["knee_center"][0] == pytest.approx(OFFSET_PX, abs=0.07)

    # the expected score, independently: the same attempt built here and scored by the engine
    mine = blank_attempt(key)
    mine.limbs[Side.RIGHT].landmarks = {n: (x + (OFFSET_PX if n == "knee_center" else 0.0), y)
                                        for n, (x, y) in expert.items()}
    expected = score_attempt(mine, key)
    knee_error_mm = OFFSET_PX * SPACING_MM
    assert expected.limbs[Side.RIGHT].landmarks["knee_center"].error == pytest.approx(knee_error_mm)

    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.Yes)
    practice.submit_action.trigger()
    assert asked and "16 of the key's 32 landmarks are not placed" in asked[0]
    score = practice.session.score
    assert score is not None and not practice.submit_action.isEnabled()
    assert score.score_pct == pytest.approx(expected.score_pct)
    assert practice.panel.score_label.text() == f"{expected.score_pct:.1f} %"
    knee = practice.panel.landmark_row(Side.RIGHT, "knee_center")
    assert knee["Error"] == f"{knee_error_mm:.1f} mm" and knee["Result"] == "✗ fail"
    assert practice.panel.landmark_row(Side.RIGHT, "femoral_head_center")["Result"] == "✓ pass"
    assert practice.panel.landmark_row(Side.LEFT, "ankle_center")["Result"] == "✗ not placed"
    # the measurement table: yours, the expert's, the difference, the band, pass or fail, as the engine says
    shown_rows = _sectioned_rows(practice.panel.measurement_table)
    assert len(shown_rows) == expected.measurements_scored
    assert shown_rows[("Both", "LLD (right − left)")][-1] == "✗ fail"  # one limb measured: no LLD
    mpta = expected.limbs[Side.RIGHT].measurements["mpta_deg"]
    yours, theirs, diff, band, result = shown_rows[("Right", "MPTA")]
    assert (yours, theirs) == (f"{mpta.attempt:.1f}°", f"{mpta.expected:.1f}°")
    assert diff == f"{mpta.error:+.1f}°".replace("-", "−") and band == "±1.5°"
    assert result == ("✓ pass" if mpta.passed else "✗ fail")
    passed_rows = sum(v[-1] == "✓ pass" for v in shown_rows.values())
    assert passed_rows == expected.measurements_passed
    assert shown_rows[("Left", "MPTA")][0] == "not measured" and shown_rows[("Left", "MPTA")][-1] == "✗ fail"
    practice.panel.tabs.setCurrentIndex(0)
    qtbot.wait(50)
    assert_cells_fit(practice.panel.measurement_table)  # the result column is on screen, no value cut short
    # the diagnosis and teaching points appear now
    assert summary.diagnosis[:40] in practice.panel.diagnosis.text()
    assert summary.teaching_points[0][:40] in practice.panel.points.text()

    # the attempt is kept, one file in the user's data folder
    attempts = sorted((Path(os.environ["DEFORMITY_APP_HOME"]) / "data" / "attempts").glob("*.attempt.json"))
    assert len(attempts) == 1
    stored = json.loads(attempts[0].read_text(encoding="utf-8"))
    assert stored["key"]["id"] == KEY_ID
    assert stored["score"]["score_pct"] == expected.to_json()["score_pct"]
    assert stored["score"]["landmarks"]["right"]["knee_center"]["error_mm"] == pytest.approx(knee_error_mm, abs=0.05)

    # the error view in the scene: the expert's overlay and an arrow per landmark; the knee's is 10 px long
    assert practice.arrows_item.scene() is window.scene and practice.expert_overlay.scene() is window.scene
    assert practice.expert_overlay.overlay.polylines and not window.overlay_item.isVisible()
    arrows = {(a.side, a.name): a for a in practice.arrows_item.arrows}
    assert len(arrows) == 32
    arrow = arrows[(Side.RIGHT, "knee_center")]
    assert math.dist(arrow.attempt, arrow.target) == pytest.approx(OFFSET_PX, abs=0.07)
    assert not arrow.passed and arrows[(Side.LEFT, "knee_center")].attempt is None
    window.view.set_loupe_enabled(False)  # it would sit where the last click was
    window.view.fit()
    qtbot.wait(50)
    screenshot(window, "practice-1-error-view")
    practice.panel.measurement_table.scrollToBottom()  # the case-level row: the limb-length discrepancy
    qtbot.wait(50)
    screenshot(window, "practice-1b-error-view-lld")
    window.view.set_zoom(2.0)
    window.view.centerOn(QPointF(*expert["knee_center"]))
    practice.panel.tabs.setCurrentIndex(1)  # the landmarks
    qtbot.wait(50)
    screenshot(window, "practice-2-error-view-knee")
    for index, name in ((2, "practice-2b-malalignment-test"), (3, "practice-2c-teaching-points")):
        practice.panel.tabs.setCurrentIndex(index)
        qtbot.wait(50)
        screenshot(practice.dock, name)

    # the progress view lists the attempt
    practice.progress_action.trigger()
    progress = practice.progress_view
    assert progress.isVisible() and progress.table.rowCount() == 1
    assert progress.table.item(0, 1).text() == summary.title
    assert progress.table.item(0, 2).text() == f"{expected.score_pct:.1f} %"
    assert [p.value for p in progress.score_chart.points] == [pytest.approx(expected.score_pct, abs=0.05)]
    progress.close()

    # the next key: "not yet done" now leaves this one out
    practice.panel.next_button.click()
    chooser = _wait_chooser(qtbot, practice)
    assert "1 · best" in _table_text(chooser.table)
    chooser.not_done.setChecked(True)
    assert KEY_ID not in chooser.visible_ids() and len(chooser.visible_ids()) == 8
    chooser.reject()


def test_first_bank_is_drawn_off_the_gui_thread(qtbot, window, practice, tmp_path):
    from PySide6.QtCore import QTimer

    practice.bank_folder = tmp_path / "fresh bank"  # nothing there yet: nine films to draw
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(50)
    practice.open_bank_action.trigger()
    task = practice.bank_task
    assert task is not None
    reports = []
    task.signals.progress.connect(lambda done, total, title: reports.append((done, total, title)))
    chooser = _wait_chooser(qtbot, practice)
    timer.stop()
    assert len(chooser.visible_ids()) == 9 and practice.bank_task is None
    assert reports and reports[-1][:2] == (9, 9)
    # the progress names the films neutrally: drawing the bank must not list its deformities
    names = [name for _d, _t, name in reports if name]
    assert names == [f"key-{i:02d}" for i in range(1, 10)]
    assert not any(info.title in name for _preset, info in bank_entries() for name in names)
    # the event loop kept running while the films were drawn (a blocked GUI thread would not tick)
    assert len(ticks) >= 10
    chooser.reject()


def test_nothing_placed_is_not_submitted(qtbot, window, practice, bank, no_modal_dialogs):
    practice.open_bank_action.trigger()
    chooser = _wait_chooser(qtbot, practice)
    chooser.table.selectRow(chooser.row_of("normal"))
    with qtbot.waitSignal(window.filmLoaded, timeout=60000):
        chooser.accept()
    practice.submit_action.trigger()
    assert practice.session.score is None
    assert no_modal_dialogs[-1] == ("warning", "Place the landmarks first: nothing to score yet.")
    assert not list((Path(os.environ["DEFORMITY_APP_HOME"]) / "data" / "attempts").glob("*.attempt.json"))
    # opening another film ends the practice
    film = window.doc.film_path
    other = next(k for k in list_keys(bank) if k.id == "two_level").film_path
    open_and_wait(qtbot, window, other)
    assert practice.session is None and not practice.dock.isVisible()
    assert film.name.startswith("practice-")


def _noisy(case: Case, rng: np.random.Generator, sd_px: float) -> Case:
    out = case.copy()
    for limb in out.limbs.values():
        limb.landmarks = {n: (x + rng.normal(0, sd_px), y + rng.normal(0, sd_px))
                          for n, (x, y) in limb.landmarks.items()}
    return out


def test_progress_view_charts_and_csv(qtbot, window, practice, bank, monkeypatch, tmp_path):
    # a fellow who gets better: eight attempts over four weeks with shrinking landmark noise
    rng = np.random.default_rng(3)
    keys = [_key(bank, k) for k in ("normal", "femoral_varus", "proximal_tibial_varus", "two_level")]
    start = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.timezone.utc)
    for i in range(8):
        key, summary = keys[i % len(keys)]
        attempt = _noisy(blank_attempt(key), rng, 0)
        attempt.limbs = _noisy(key, rng, 9.0 - i).limbs
        if i == 2:
            attempt.limbs[Side.LEFT].landmarks.clear()  # one attempt with a limb left out
        save_attempt(attempt, key, score_attempt(attempt, key), key_path=summary.path, seconds=300 + 30 * i,
                     submitted_at=start + dt.timedelta(days=3.5 * i))
    records = load_history()
    assert len(records) == 8

    view = practice.show_progress()
    assert view.table.rowCount() == 8
    assert [p.value for p in view.score_chart.points] == [pytest.approx(r.score_pct) for r in records]
    bars = {b.label: b for b in view.measurement_chart.bars}
    means = mean_errors(records, "measurement")
    assert bars["MPTA"].ratio == pytest.approx(means["mpta_deg"].mean_abs / 1.5)
    assert [b.ratio for b in view.measurement_chart.bars] == sorted((b.ratio for b in bars.values()), reverse=True)
    landmark_means = mean_errors(records, "landmark")
    assert {b.label for b in view.landmark_chart.bars} >= {"Knee centre", "Femoral head centre"}
    assert view.landmark_chart.bars[0].ratio == pytest.approx(
        max(s.mean_abs / (3.0 if n in ("femoral_head_center", "knee_center", "ankle_center") or "shaft" in n else 2.0)
            for n, s in landmark_means.items()))
    qtbot.wait(50)
    screenshot(view, "practice-3-progress")

    # one key only
    view.key_filter.setCurrentIndex(view.key_filter.findData("two_level"))
    assert view.table.rowCount() == 2 and len(view.score_chart.points) == 2

    out = tmp_path / "history"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    view.key_filter.setCurrentIndex(0)
    view.export_button.click()
    with open(out.with_suffix(".csv"), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(history_rows(records))
    assert {r["attempt_id"] for r in rows} == {r.id for r in records}


def test_save_case_as_key_then_practise_it_from_the_clinic_folder(qtbot, window, practice, small_demo, ground_truth,
                                                                  monkeypatch, tmp_path):
    film, case_path = small_demo
    open_and_wait(qtbot, window, film, Case.from_dict(ground_truth), case_path)
    practice.save_key_action.trigger()
    dialog = practice.save_key_dialog
    assert dialog is not None and dialog.isVisible()
    assert not dialog.buttons.button(QDialogButtonBox.Save).isEnabled()
    folder = tmp_path / "clinic keys"
    dialog.title.setText("Tibial varus, demo")
    dialog.level.setCurrentIndex(dialog.level.findData("intermediate"))
    dialog.diagnosis.setPlainText("Right proximal tibial varus")
    dialog.points.setPlainText("MPTA is low\n- the femur is normal\n")
    dialog.folder.setText(str(folder))
    dialog.buttons.button(QDialogButtonBox.Save).click()
    keys = list_keys(folder)
    assert len(keys) == 1
    saved = keys[0]
    assert (saved.title, saved.level, saved.diagnosis) == ("Tibial varus, demo", "intermediate",
                                                           "Right proximal tibial varus")
    assert saved.teaching_points == ("MPTA is low", "the femur is normal")
    ds = pydicom.dcmread(saved.film_path)
    assert str(ds.PatientName) == "" and ds.PatientIdentityRemoved == "YES"
    # the descriptions could name the diagnosis (and are removed by DICOM's basic confidentiality profile)
    assert pydicom.dcmread(film).SeriesDescription and "SeriesDescription" not in ds and "StudyDescription" not in ds

    # Practice > Open a clinic's bank folder…
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    practice.open_folder_action.trigger()
    chooser = _wait_chooser(qtbot, practice)
    assert not chooser.show_titles.isChecked()  # blind unless asked
    assert "Tibial varus" not in _table_text(chooser.table) and "Key 1" in _table_text(chooser.table)
    with qtbot.waitSignal(window.filmLoaded, timeout=60000):
        chooser.accept()
    assert practice.session is not None and practice.panel.title.text() == "Key 1"
    assert not any(limb.landmarks for limb in window.doc.case.limbs.values())


def test_one_practice_menu(window):
    from deformity_app.gui.practice import install_practice

    assert install_practice(window) is window.practice
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles.count("&Practice") + titles.count("Practice") == 1


def test_an_uncalibrated_key_says_its_tolerances_are_pixels(qtbot, window, practice, bank, monkeypatch, tmp_path):
    """practice.md gives tolerances in mm and no pixel tolerance: the error view says what was done."""
    key, summary = _key(bank, "normal")
    uncalibrated = key.copy()
    uncalibrated.pixel_spacing_mm = None
    uncalibrated.calibration_source = "none"
    uncalibrated.image["path"] = str(summary.film_path)
    uncalibrated.extra = {"key": {"title": "Normal, uncalibrated", "level": "basic"}}
    folder = tmp_path / "keys"
    folder.mkdir()
    save_case(uncalibrated, folder / "uncalibrated.case.json")
    clinic = list_keys(folder)[0]
    assert not clinic.calibrated
    with qtbot.waitSignal(window.filmLoaded, timeout=60000):
        practice.start(clinic, "Key 1")
    right = key.limbs[Side.RIGHT].landmarks
    window.doc.case.limbs[Side.RIGHT].landmarks.update({n: (x + 2.5, y) for n, (x, y) in right.items()})
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    score = practice.submit()
    assert score is not None and score.unit == "px"
    counts = practice.panel.counts.text()
    assert "uncalibrated" in counts and "applied as pixels" in counts
    # 2.5 px to the side: within the femoral head's 3 (mm read as px), outside a condyle's 2
    assert practice.panel.landmark_row(Side.RIGHT, "femoral_head_center")["Error"] == "2.5 px"
    assert practice.panel.landmark_row(Side.RIGHT, "femoral_head_center")["Result"] == "✓ pass"
    assert practice.panel.landmark_row(Side.RIGHT, "femoral_condyle_medial")["Tolerance"] == "≤ 2.0 px"
    assert practice.panel.landmark_row(Side.RIGHT, "femoral_condyle_medial")["Result"] == "✗ fail"
