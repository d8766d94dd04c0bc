"""The PACS browser, the node editor and Send to PACS, through their real widgets, against a real Orthanc.

What the browser shows is compared with what Orthanc holds (its REST API) and with the uploaded
files read by pydicom, never with the browser's own data. Skipped with a clear message when
Orthanc is not installed (tests/pacs_fixtures.py).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid
from PySide6.QtCore import QDate, QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from deformity_app import pacs_cli
from deformity_app.gui.pacs_browser import (
    PacsBrowser,
    install_pacs,
    person_name,
    retrieve_dir,
)
from measurements.case import load_case
from tests.pacs_fixtures import dimse_node, films, free_port, orthanc, web_node  # noqa: F401

from .conftest import open_and_wait, screenshot

WAIT_MS = 60000


# --- fixtures and helpers ----------------------------------------------------------------------------------------


@pytest.fixture
def nodes(orthanc):
    """The user's nodes: the test Orthanc by DIMSE ("orthanc") and by DICOMweb ("web"), and a closed port."""
    pacs_cli.save_user_nodes({
        "orthanc": dimse_node(orthanc, name="orthanc"),
        "web": web_node(orthanc, name="web"),
        "closed": dimse_node(orthanc, name="closed", port=free_port(), timeout_s=5.0),
    })
    return pacs_cli.nodes_path()


@pytest.fixture
def pacs(window, nodes):
    controller = install_pacs(window)
    yield controller
    controller.runner.cancel_all()
    assert controller.runner.wait(30000), "a PACS task was still running at the end of the test"


@pytest.fixture
def browser(pacs, qtbot) -> PacsBrowser:
    pacs.find_action.trigger()  # File > Find on PACS…
    assert pacs.browser is not None and pacs.browser.isVisible()
    qtbot.waitExposed(pacs.browser)
    return pacs.browser


def choose_node(browser, name: str) -> None:
    index = browser.node_combo.findData(name)
    assert index >= 0, name
    browser.node_combo.setCurrentIndex(index)


def run_search(qtbot, browser, *, name: str = "", patient_id: str = "", modality: str = "",
               dates: tuple[QDate, QDate] | None = None) -> None:
    """Clear the form, type the fields, click Search and wait for the answer."""
    qtbot.mouseClick(browser.clear_button, Qt.LeftButton)
    if name:
        qtbot.keyClicks(browser.name_edit, name)
    if patient_id:
        qtbot.keyClicks(browser.id_edit, patient_id)
    if modality:
        qtbot.keyClicks(browser.modality_combo.lineEdit(), modality)
    if dates is not None:
        browser.date_from.setDate(dates[0])
        browser.date_to.setDate(dates[1])
    with qtbot.waitSignal(browser.studiesShown, timeout=WAIT_MS):
        qtbot.mouseClick(browser.search_button, Qt.LeftButton)


def listed_study_uids(browser) -> list[str]:
    table = browser.studies_table
    return [table.item(row, 0).data(Qt.UserRole) for row in range(table.rowCount())]


def row_of(browser, study_uid: str) -> int:
    return listed_study_uids(browser).index(study_uid)


def click_row(qtbot, table, row: int, modifier=Qt.NoModifier) -> None:
    item = table.item(row, 1)
    table.scrollToItem(item)
    qtbot.mouseClick(table.viewport(), Qt.LeftButton, modifier, table.visualItemRect(item).center())


def select_study(qtbot, browser, study_uid: str) -> None:
    with qtbot.waitSignal(browser.seriesShown, timeout=WAIT_MS):
        click_row(qtbot, browser.studies_table, row_of(browser, study_uid))


def assert_study_row_matches_orthanc(browser, orthanc, study_uid: str) -> None:
    ids = orthanc.find("Study", {"StudyInstanceUID": study_uid})
    assert len(ids) == 1
    study = orthanc.get(f"/studies/{ids[0]}")
    tags, patient = study["MainDicomTags"], study["PatientMainDicomTags"]
    series = [orthanc.get(f"/series/{s}") for s in study["Series"]]
    instances = sum(len(s["Instances"]) for s in series)
    modalities = sorted({s["MainDicomTags"]["Modality"] for s in series})
    date = tags["StudyDate"]
    row = row_of(browser, study_uid)
    shown = [browser.studies_table.item(row, col).text() for col in range(browser.studies_table.columnCount())]
    assert shown == [person_name(patient["PatientName"]), patient["PatientID"], f"{date[:4]}-{date[4:6]}-{date[6:]}",
                     tags.get("AccessionNumber", ""), tags.get("StudyDescription", ""), ",".join(modalities),
                     str(len(series)), str(instances)]


def assert_series_match_orthanc(browser, orthanc, study_uid: str) -> None:
    ids = orthanc.find("Study", {"StudyInstanceUID": study_uid})
    expected = sorted((s["MainDicomTags"]["SeriesInstanceUID"], s["MainDicomTags"]["Modality"],
                       s["MainDicomTags"].get("SeriesDescription", ""), str(len(s["Instances"])))
                      for s in (orthanc.get(f"/series/{sid}") for sid in orthanc.get(f"/studies/{ids[0]}")["Series"]))
    table = browser.series_table
    shown = sorted((table.item(r, 0).data(Qt.UserRole), table.item(r, 1).text(), table.item(r, 2).text(),
                    table.item(r, 3).text()) for r in range(table.rowCount()))
    assert shown == expected


def assert_plain_line(text: str) -> None:
    assert text and "\n" not in text and "Traceback" not in text and "Error:" not in text


# --- the menu ----------------------------------------------------------------------------------------------------


def test_install_is_idempotent_and_adds_the_file_menu_entries(window, nodes):
    controller = install_pacs(window)
    assert install_pacs(window) is controller and window.pacs is controller
    texts = [a.text().replace("&", "") for a in controller.file_menu.actions()]
    for text in ("Find on PACS…", "Send to PACS…", "PACS nodes…"):
        assert texts.count(text) == 1
    assert texts[-1] == "Quit"


# --- search, series, recent searches --------------------------------------------------------------------------------


def test_search_by_name_and_by_id_finds_the_study_orthanc_holds(qtbot, browser, orthanc, films, window):
    demo = pydicom.dcmread(films.demo, stop_before_pixels=True)

    run_search(qtbot, browser, name="DEMO*")
    assert films.demo_study in listed_study_uids(browser), browser.status_text()
    assert_study_row_matches_orthanc(browser, orthanc, films.demo_study)
    assert "found on orthanc" in browser.status_text()

    run_search(qtbot, browser, patient_id=str(demo.PatientID))
    uids = listed_study_uids(browser)
    assert films.demo_study in uids
    column = [browser.studies_table.item(r, 1).text() for r in range(browser.studies_table.rowCount())]
    assert set(column) == {str(demo.PatientID)}
    assert_study_row_matches_orthanc(browser, orthanc, films.demo_study)

    # the date range and the modality narrow the search
    day = QDate.fromString(str(demo.StudyDate), "yyyyMMdd")
    run_search(qtbot, browser, patient_id=str(demo.PatientID), dates=(day.addDays(-1), day.addDays(1)))
    assert films.demo_study in listed_study_uids(browser)
    run_search(qtbot, browser, patient_id=str(demo.PatientID), dates=(day.addDays(1), day.addDays(30)))
    assert listed_study_uids(browser) == [] and "No study" in browser.status_text()
    assert f"limited to study dates {day.addDays(1).toString('yyyy-MM-dd')} to" in browser.status_text()
    run_search(qtbot, browser, patient_id=str(demo.PatientID), modality="CR")
    assert listed_study_uids(browser) == []
    run_search(qtbot, browser, patient_id=str(demo.PatientID), modality="dx")
    assert films.demo_study in listed_study_uids(browser)

    # the same through DICOMweb
    choose_node(browser, "web")
    run_search(qtbot, browser, patient_id=str(demo.PatientID))
    assert_study_row_matches_orthanc(browser, orthanc, films.demo_study)
    choose_node(browser, "orthanc")

    # choosing the study lists its series
    run_search(qtbot, browser, name="DEMO*")
    select_study(qtbot, browser, films.demo_study)
    assert browser.series_table.rowCount() == 1
    assert_series_match_orthanc(browser, orthanc, films.demo_study)
    assert browser.retrieve_button.isEnabled() and browser.retrieve_button.text().replace("&", "") == "Retrieve study"
    click_row(qtbot, browser.series_table, 0)
    assert browser.retrieve_button.text().replace("&", "") == "Retrieve 1 series"

    # the recent searches are kept in the window's settings and run again from the list
    recent = browser.recent_searches()
    assert recent[0].patient_name == "DEMO*" and recent[0].node == "orthanc"
    assert [f.patient_id for f in recent[1:4]] == [str(demo.PatientID)] * 3
    stored = json.loads(window.settings.value("pacs/recent_searches"))
    assert stored[0]["patient_name"] == "DEMO*"
    qtbot.mouseClick(browser.clear_button, Qt.LeftButton)
    assert browser.name_edit.text() == ""
    browser.studies_table.setRowCount(0)
    index = next(i for i in range(browser.recent_combo.count())
                 if (browser.recent_combo.itemData(i) or {}).get("modality") == "CR")
    with qtbot.waitSignal(browser.studiesShown, timeout=WAIT_MS):
        browser.recent_combo.setFocus()
        browser.recent_combo.activated.emit(index)  # as choosing the line in the list does
    assert browser.id_edit.text() == str(demo.PatientID) and browser.modality_combo.currentText() == "CR"
    assert listed_study_uids(browser) == []


def test_a_closed_port_is_one_plain_line_and_the_browser_stays_usable(qtbot, browser, films):
    choose_node(browser, "closed")
    with qtbot.waitSignal(browser.echoFinished, timeout=WAIT_MS):
        qtbot.mouseClick(browser.echo_button, Qt.LeftButton)
    line = browser.status_text()
    assert_plain_line(line)
    assert "connection refused" in line and "127.0.0.1" in line

    run_search(qtbot, browser, patient_id="DEMO-0001")
    assert_plain_line(browser.status_text())
    assert "connection refused" in browser.status_text()
    assert listed_study_uids(browser) == []
    assert browser.search_button.isEnabled() and browser.isVisible()

    choose_node(browser, "orthanc")
    with qtbot.waitSignal(browser.echoFinished, timeout=WAIT_MS):
        qtbot.mouseClick(browser.echo_button, Qt.LeftButton)
    assert "orthanc answered (C-ECHO)" in browser.status_text()
    run_search(qtbot, browser, patient_id="DEMO-0001")
    assert films.demo_study in listed_study_uids(browser)


def test_bad_fields_are_refused_in_the_status_line(qtbot, browser):
    qtbot.mouseClick(browser.clear_button, Qt.LeftButton)
    qtbot.mouseClick(browser.search_button, Qt.LeftButton)
    assert "Fill at least one field" in browser.status_text()
    qtbot.keyClicks(browser.modality_combo.lineEdit(), "C-R")
    qtbot.mouseClick(browser.search_button, Qt.LeftButton)
    assert "is not a list of codes" in browser.status_text()
    qtbot.mouseClick(browser.clear_button, Qt.LeftButton)
    browser.date_from.setDate(QDate(2025, 2, 1))
    browser.date_to.setDate(QDate(2025, 1, 1))
    qtbot.mouseClick(browser.search_button, Qt.LeftButton)
    assert "after the 'to' date" in browser.status_text()
    assert not browser.runner.busy


def test_a_date_field_starts_from_today_and_goes_back_to_any(qtbot, browser):
    qtbot.mouseClick(browser.clear_button, Qt.LeftButton)
    assert browser.date_to.is_any() and browser.date_to.placeholderText() == "any"
    assert browser.fields().date_to == ""
    qtbot.keyClick(browser.date_to, Qt.Key_Up)  # from "any": today, not 1900-01-02
    assert browser.date_to.date() == QDate.currentDate()
    assert browser.fields().date_to == QDate.currentDate().toString("yyyyMMdd")
    qtbot.keyClick(browser.date_to, Qt.Key_Down)
    assert browser.date_to.date() == QDate.currentDate().addDays(-1)
    browser.date_to.selectAll()
    qtbot.keyClick(browser.date_to, Qt.Key_Delete)
    assert browser.date_to.is_any() and browser.fields().date_to == ""


# --- retrieve and open -----------------------------------------------------------------------------------------------


def test_retrieve_writes_the_files_and_open_shows_the_film(qtbot, browser, window, films, orthanc):
    run_search(qtbot, browser, patient_id="DEMO-0001")
    select_study(qtbot, browser, films.demo_study)
    click_row(qtbot, browser.series_table, 0)
    assert browser.selected_series() == [films.demo_series]
    with qtbot.waitSignal(browser.retrieveFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(browser.retrieve_button, Qt.LeftButton)
        assert not browser.retrieve_button.isEnabled()  # the click returned while the retrieve runs
    result = finished.args[0]
    assert result is not None and result.complete, browser.status_text()
    folder = retrieve_dir(films.demo_study)
    expected = folder / f"{films.demo_sop}.dcm"
    assert result.files == [expected]
    assert sorted(p.name for p in folder.iterdir()) == [expected.name]
    retrieved = pydicom.dcmread(expected)
    original = pydicom.dcmread(films.demo)
    assert retrieved.SOPInstanceUID == original.SOPInstanceUID
    assert (retrieved.pixel_array == original.pixel_array).all()
    assert "Received 1 instance(s)" in browser.status_text()
    assert browser.films_list.count() == 1 and browser.films_list.currentRow() == 0
    assert browser.open_button.isEnabled()
    screenshot(browser, "pacs-1-browser-retrieved")

    with qtbot.waitSignal(window.filmLoaded, timeout=WAIT_MS):
        qtbot.mouseClick(browser.open_button, Qt.LeftButton)
    assert not browser.isVisible()
    assert window.doc.radiograph is not None
    assert window.doc.film_path == expected
    assert window.doc.radiograph.pixels.shape == retrieved.pixel_array.shape

    # reopening the browser shows the same results
    browser.controller.find_action.trigger()
    assert browser.isVisible() and browser.films_list.count() == 1


@pytest.fixture
def move_node(nodes, orthanc):
    """One more node, "move": the test Orthanc by DIMSE, retrieving by C-MOVE to our storage SCP."""
    saved = pacs_cli.load_user_nodes()
    saved["move"] = dimse_node(orthanc, name="move", retrieve="C-MOVE")
    pacs_cli.save_user_nodes(saved)


@pytest.mark.parametrize("node, method", [("move", "C-MOVE"), ("web", "WADO-RS")])
def test_retrieve_by_c_move_or_wado_rs_from_the_browser(qtbot, move_node, browser, window, films, node, method):
    """The same retrieve through a node that uses C-MOVE (to our own storage SCP) or WADO-RS."""
    choose_node(browser, node)
    run_search(qtbot, browser, patient_id="DEMO-0001")
    select_study(qtbot, browser, films.demo_study)
    with qtbot.waitSignal(browser.retrieveFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(browser.retrieve_button, Qt.LeftButton)
    result = finished.args[0]
    assert result is not None and result.complete and result.method == method, browser.status_text()
    retrieved = pydicom.dcmread(retrieve_dir(films.demo_study) / f"{films.demo_sop}.dcm")
    assert (retrieved.pixel_array == pydicom.dcmread(films.demo).pixel_array).all()
    with qtbot.waitSignal(window.filmLoaded, timeout=WAIT_MS):
        qtbot.mouseClick(browser.open_button, Qt.LeftButton)
    assert window.doc.radiograph.pixels.shape == retrieved.pixel_array.shape


def test_retrieve_of_several_films_prefers_the_dx_or_cr_one(qtbot, browser, films, orthanc, tmp_path):
    # a study with a secondary capture (OT) and a DX film: the DX film is chosen first
    study, pid = generate_uid(), "CHOICE-1"
    uids = {}
    for modality in ("OT", "DX"):
        ds = pydicom.dcmread(films.tiny)
        ds.PatientID, ds.PatientName, ds.Modality = pid, "Choice^Test", modality
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, generate_uid()
        ds.SeriesNumber = 1 if modality == "OT" else 2
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        uids[modality] = str(ds.SOPInstanceUID)
        orthanc.upload_dataset(ds)
    run_search(qtbot, browser, patient_id=pid)
    select_study(qtbot, browser, study)
    assert browser.series_table.rowCount() == 2
    with qtbot.waitSignal(browser.retrieveFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(browser.retrieve_button, Qt.LeftButton)
    assert finished.args[0].received == 2
    assert browser.films_list.count() == 2
    assert Path(browser.films_list.item(0).data(Qt.UserRole)).stem == uids["DX"]
    assert browser.films_list.item(0).text().startswith("DX")


def test_cancel_stops_a_retrieve_and_keeps_what_arrived(qtbot, browser, films, monkeypatch):
    # A slow link: every instance takes 0.4 s to arrive, so that Cancel lands in the middle.
    from dicom_io.pacs import dimse

    handle = dimse._Receiver.handle

    def slow_handle(self, event):
        time.sleep(0.4)
        return handle(self, event)

    monkeypatch.setattr(dimse._Receiver, "handle", slow_handle)
    run_search(qtbot, browser, patient_id="MULTI-1")
    select_study(qtbot, browser, films.multi_study)
    with qtbot.waitSignal(browser.retrieveFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(browser.retrieve_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: browser.progress_bar.maximum() == films.multi_count
                        and browser.progress_bar.value() >= 1, timeout=WAIT_MS)
        assert browser.cancel_button.isEnabled()
        qtbot.mouseClick(browser.cancel_button, Qt.LeftButton)
    result = finished.args[0]
    assert result is not None and result.cancelled
    assert 1 <= result.received < films.multi_count
    assert "Retrieve cancelled" in browser.status_text()
    folder = retrieve_dir(films.multi_study)
    kept = sorted(folder.iterdir())
    assert kept == sorted(result.files) and all(p.suffix == ".dcm" and not p.name.startswith(".") for p in kept)
    for path in kept:
        pydicom.dcmread(path)  # every kept file is whole
    # the browser is usable again
    assert browser.retrieve_button.isEnabled() and not browser.cancel_button.isEnabled()
    assert browser.films_list.count() == result.received

    # retrieving again completes the study, and a third time changes nothing: one file per instance
    monkeypatch.setattr(dimse._Receiver, "handle", handle)
    for _ in range(2):
        with qtbot.waitSignal(browser.retrieveFinished, timeout=WAIT_MS) as finished:
            qtbot.mouseClick(browser.retrieve_button, Qt.LeftButton)
        again = finished.args[0]
        assert again is not None and again.complete and again.received == films.multi_count, browser.status_text()
        assert len(list(folder.iterdir())) == films.multi_count
        assert browser.films_list.count() == films.multi_count
        assert len({browser.films_list.item(i).data(Qt.UserRole) for i in range(films.multi_count)}) == films.multi_count


# --- the node editor -------------------------------------------------------------------------------------------------


def test_node_editor_refuses_a_bad_ae_title_saves_a_good_node_and_tests_it(qtbot, pacs, browser, orthanc, monkeypatch):
    pacs.nodes_action.trigger()  # File > PACS nodes…
    dialog = pacs.nodes_dialog
    qtbot.waitExposed(dialog)
    assert [dialog.node_list.item(i).text() for i in range(dialog.node_list.count())] == ["orthanc", "web", "closed"]
    before = pacs_cli.nodes_path().read_text()

    qtbot.mouseClick(dialog.new_button, Qt.LeftButton)
    qtbot.keyClicks(dialog.name_edit, "second")
    qtbot.keyClicks(dialog.host_edit, "127.0.0.1")
    dialog.port_spin.lineEdit().selectAll()
    qtbot.keyClicks(dialog.port_spin, str(orthanc.dicom_port))
    qtbot.keyClicks(dialog.called_aet_edit, "A_MUCH_TOO_LONG_AE_TITLE")
    qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
    assert "longer than 16 characters" in dialog.error_label.text()
    assert pacs_cli.nodes_path().read_text() == before  # nothing written

    dialog.called_aet_edit.clear()
    qtbot.keyClicks(dialog.called_aet_edit, orthanc.aet)
    qtbot.mouseClick(dialog.test_button, Qt.LeftButton)  # echo with the form's values, before saving
    qtbot.waitUntil(lambda: "answered (C-ECHO)" in dialog.status_label.text(), timeout=WAIT_MS)
    with qtbot.waitSignal(dialog.nodesChanged):
        qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
    assert dialog.error_label.text() == ""
    saved = pacs_cli.load_user_nodes()
    assert list(saved) == ["orthanc", "web", "closed", "second"]
    node = saved["second"]
    assert (node.kind, node.host, node.port, node.called_aet, node.calling_aet, node.retrieve) == (
        "dimse", "127.0.0.1", orthanc.dicom_port, orthanc.aet, "DEFORMITY", "C-GET")
    assert browser.node_combo.findData("second") >= 0  # the browser follows

    # a DICOMweb node with a bad address is refused with nodes.py's sentence
    qtbot.mouseClick(dialog.new_button, Qt.LeftButton)
    qtbot.keyClicks(dialog.name_edit, "webby")
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("dicomweb"))
    assert dialog.url_edit.isVisible() and not dialog.host_edit.isVisible()
    qtbot.keyClicks(dialog.url_edit, "ftp://pacs.example/dicom-web")
    qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
    assert "is not an http:// or https:// URL" in dialog.error_label.text()
    assert "webby" not in pacs_cli.load_user_nodes()
    dialog.url_edit.clear()
    qtbot.keyClicks(dialog.url_edit, orthanc.dicomweb_url)
    qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
    assert pacs_cli.load_user_nodes()["webby"].url == orthanc.dicomweb_url

    # a name already taken is refused; deleting asks, then removes the node
    qtbot.mouseClick(dialog.new_button, Qt.LeftButton)
    qtbot.keyClicks(dialog.name_edit, "orthanc")
    qtbot.keyClicks(dialog.host_edit, "localhost")
    qtbot.keyClicks(dialog.called_aet_edit, "X")
    qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
    assert "already exists" in dialog.error_label.text()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    click_list_item(qtbot, dialog.node_list, "second")
    assert dialog.name_edit.text() == "second" and dialog.port_spin.value() == orthanc.dicom_port
    qtbot.mouseClick(dialog.delete_button, Qt.LeftButton)
    assert "second" not in pacs_cli.load_user_nodes()
    assert browser.node_combo.findData("second") < 0
    qtbot.wait(100)  # let the form lay out its rows again before the picture
    screenshot(dialog, "pacs-3-nodes")


def click_checkbox(qtbot, box) -> None:
    # on the box itself: a check box stretched across a layout ignores clicks right of its text
    qtbot.mouseClick(box, Qt.LeftButton, Qt.NoModifier, QPoint(8, box.height() // 2))


def click_list_item(qtbot, widget, text: str) -> None:
    item = widget.findItems(text, Qt.MatchExactly)[0]
    qtbot.mouseClick(widget.viewport(), Qt.LeftButton, Qt.NoModifier, widget.visualItemRect(item).center())


# --- send to PACS ----------------------------------------------------------------------------------------------------


def test_send_without_a_film_is_refused_politely(pacs, no_modal_dialogs):
    pacs.send_action.trigger()
    assert pacs.send_dialog is None
    assert no_modal_dialogs and no_modal_dialogs[-1][0] == "warning"
    assert "Open a film first" in no_modal_dialogs[-1][1]


def test_send_to_pacs_stores_the_objects_in_the_film_study(qtbot, pacs, window, films, orthanc, tmp_path):
    # A study of its own (the session's demo study stays as other tests expect it).
    ds = pydicom.dcmread(films.demo)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PatientID, ds.PatientName = "SEND-1", "Send^Test"
    film = tmp_path / "film.dcm"
    ds.save_as(film, enforce_file_format=True)
    orthanc.upload(film)
    case = json.loads(films.demo_case.read_text())
    case["image"].update(path=str(film), sop_instance_uid=str(ds.SOPInstanceUID))
    case_path = tmp_path / "film.case.json"
    case_path.write_text(json.dumps(case))
    open_and_wait(qtbot, window, film, load_case(case_path), case_path)

    pacs.send_action.trigger()  # File > Send to PACS…
    dialog = pacs.send_dialog
    qtbot.waitExposed(dialog)
    assert "film.dcm" in dialog.film_label.text() and "SEND-1" in dialog.film_label.text()
    assert dialog.chosen_kinds() == ("sr", "gsps", "sc", "pdf")
    dialog.node_combo.setCurrentIndex(dialog.node_combo.findData("orthanc"))
    with qtbot.waitSignal(dialog.sendFinished, timeout=180000) as finished:
        qtbot.mouseClick(dialog.send_button, Qt.LeftButton)
        assert not dialog.send_button.isEnabled()  # the click returned while the work runs
    outcome = finished.args[0]
    assert outcome is not None, dialog.status_label.text()
    table = dialog.result_table
    assert table.rowCount() == 4
    assert [table.item(r, 1).text() for r in range(4)] == ["Stored"] * 4, [table.item(r, 2).text() for r in range(4)]
    assert "All 4 object(s) stored on orthanc" in dialog.status_label.text()

    study = orthanc.find("Study", {"StudyInstanceUID": str(ds.StudyInstanceUID)})
    assert len(study) == 1
    series = [orthanc.get(f"/series/{s}")["MainDicomTags"] for s in orthanc.get(f"/studies/{study[0]}")["Series"]]
    assert sorted(s["Modality"] for s in series) == ["DOC", "DX", "OT", "PR", "SR"]
    for obj in outcome.objects:
        tags = orthanc.instance_tags(obj.sop_instance_uid)
        assert tags["SOPInstanceUID"] == obj.sop_instance_uid
        assert tags["StudyInstanceUID"] == str(ds.StudyInstanceUID) and tags["PatientID"] == "SEND-1"
        assert tags["SeriesInstanceUID"] == obj.series_instance_uid != str(ds.SeriesInstanceUID)
    screenshot(dialog, "pacs-2-send-result")

    # only the SR, through DICOMweb: one more series in the study
    for kind in ("gsps", "sc", "pdf"):
        click_checkbox(qtbot, dialog.kind_boxes[kind])
    assert dialog.chosen_kinds() == ("sr",)
    dialog.node_combo.setCurrentIndex(dialog.node_combo.findData("web"))
    with qtbot.waitSignal(dialog.sendFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(dialog.send_button, Qt.LeftButton)
    assert finished.args[0] is not None and table.rowCount() == 1 and table.item(0, 1).text() == "Stored"
    modalities = sorted(orthanc.get(f"/series/{s}")["MainDicomTags"]["Modality"]
                        for s in orthanc.get(f"/studies/{study[0]}")["Series"])
    assert modalities == ["DOC", "DX", "OT", "PR", "SR", "SR"]


def test_send_to_a_closed_port_is_one_plain_line(qtbot, pacs, window, small_demo):
    film, case_path = small_demo
    open_and_wait(qtbot, window, film, load_case(case_path), case_path)
    pacs.send_action.trigger()
    dialog = pacs.send_dialog
    for kind in ("gsps", "sc", "pdf"):
        click_checkbox(qtbot, dialog.kind_boxes[kind])
    dialog.node_combo.setCurrentIndex(dialog.node_combo.findData("closed"))
    with qtbot.waitSignal(dialog.sendFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(dialog.send_button, Qt.LeftButton)
    assert finished.args[0] is None
    assert_plain_line(dialog.status_label.text())
    assert "connection refused" in dialog.status_label.text()
    assert dialog.send_button.isEnabled()


# --- review: keyboard, slow nodes, display, privacy ------------------------------------------------------------------


@pytest.fixture
def silent():
    """A listening socket that accepts connections and never answers (a PACS that hangs, a firewall
    that holds the connection); closing it ends the waiting associations at once."""
    import socket

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # the kernel completes the handshakes; nobody ever reads
    yield listener
    listener.close()


def add_node(node) -> None:
    saved = pacs_cli.load_user_nodes()
    saved[node.name] = node
    pacs_cli.save_user_nodes(saved)


def upload_study(orthanc, films, patient_id: str, name: str, count: int = 1, **tags) -> tuple[str, list[str]]:
    """A study of `count` small CR images in one series, uploaded in reverse instance order."""
    study, series, uids = generate_uid(), generate_uid(), []
    for number in range(count, 0, -1):
        ds = pydicom.dcmread(films.tiny)
        ds.PatientID, ds.PatientName = patient_id, name
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SeriesNumber, ds.InstanceNumber, ds.SeriesDescription = 1, number, "Long leg"
        for keyword, value in tags.items():
            setattr(ds, keyword, value)
        orthanc.upload_dataset(ds)
        uids.append(str(ds.SOPInstanceUID))
    return study, uids


def mnemonics(texts) -> list[str]:
    return [t[t.index("&") + 1].lower() for t in texts if "&" in t and not t.endswith("&")]


def assert_no_duplicate_mnemonics(widget) -> None:
    from PySide6.QtWidgets import QAbstractButton, QLabel

    texts = [w.text() for w in widget.findChildren(QAbstractButton) + widget.findChildren(QLabel) if w.isVisibleTo(widget)]
    letters = mnemonics(texts)
    assert len(letters) == len(set(letters)), sorted(t for t in texts if "&" in t)


def test_the_keyboard_runs_the_browser_enter_searches_retrieves_and_opens(qtbot, browser, window, films):
    browser.activateWindow()
    assert browser.focusWidget() is browser.name_edit  # ready to type a name
    qtbot.mouseClick(browser.clear_button, Qt.LeftButton)
    qtbot.keyClicks(browser.id_edit, "DEMO-0001")
    with qtbot.waitSignal(browser.studiesShown, timeout=WAIT_MS):
        qtbot.keyClick(browser.id_edit, Qt.Key_Return)
    select_study(qtbot, browser, films.demo_study)
    # Enter on the chosen study retrieves it (it used to run the search again and lose the choice)
    with qtbot.waitSignal(browser.retrieveFinished, timeout=WAIT_MS) as finished:
        qtbot.keyClick(browser.studies_table, Qt.Key_Return)
    assert finished.args[0] is not None and finished.args[0].complete
    assert browser.selected_study().study_uid == films.demo_study
    # Enter on a film opens it
    with qtbot.waitSignal(window.filmLoaded, timeout=WAIT_MS):
        qtbot.keyClick(browser.films_list, Qt.Key_Return)
    assert window.doc.film_path == retrieve_dir(films.demo_study) / f"{films.demo_sop}.dcm"

    # Tab goes through the form as it reads, Search before Clear, then the tables
    from PySide6.QtWidgets import QComboBox

    browser.controller.find_action.trigger()
    browser.name_edit.setFocus()
    order = []
    for _ in range(9):
        widget = browser.focusWidget()
        order.append(widget.parent() if isinstance(widget.parent(), QComboBox) else widget)
        qtbot.keyClick(widget, Qt.Key_Tab)
    assert order == [browser.name_edit, browser.id_edit, browser.accession_edit, browser.date_from, browser.date_to,
                     browser.modality_combo, browser.search_button, browser.clear_button, browser.studies_table]
    # every Alt+letter reaches one control (Alt+N was both "Patient name" and "Nodes…")
    assert_no_duplicate_mnemonics(browser)
    browser.controller.nodes_action.trigger()
    assert_no_duplicate_mnemonics(browser.controller.nodes_dialog)
    menu = browser.controller.file_menu
    ours = [browser.controller.find_action, browser.controller.send_action, browser.controller.nodes_action]
    others = mnemonics(a.text() for a in menu.actions() if a not in ours)
    assert not set(mnemonics(a.text() for a in ours)) & set(others)


def test_a_silent_node_does_not_hold_the_search_and_the_window_stays_responsive(qtbot, browser, films, orthanc,
                                                                               silent):
    from PySide6.QtCore import QElapsedTimer, QTimer

    add_node(dimse_node(orthanc, name="silent", port=silent.getsockname()[1], called_aet="SILENT", timeout_s=30.0))
    browser.refresh_nodes()
    choose_node(browser, "silent")

    # the event loop keeps turning while the echo waits: a 20 ms timer is never held up
    clock, gaps = QElapsedTimer(), []
    clock.start()

    def tick():
        gaps.append(clock.restart())

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(20)
    qtbot.mouseClick(browser.echo_button, Qt.LeftButton)
    qtbot.wait(1500)
    assert "Asking silent" in browser.status_text()
    qtbot.mouseClick(browser.clear_button, Qt.LeftButton)
    qtbot.keyClicks(browser.id_edit, "DEMO-0001")
    qtbot.mouseClick(browser.search_button, Qt.LeftButton)  # waits on the silent node
    qtbot.wait(500)
    timer.stop()
    assert len(gaps) > 50 and max(gaps) < 500, max(gaps)

    # the user sees the mistake, chooses the right node and searches again at once
    choose_node(browser, "orthanc")
    assert "Stopped waiting for silent" in browser.status_text()
    assert browser.search_button.isEnabled()
    with qtbot.waitSignal(browser.studiesShown, timeout=5000):
        qtbot.mouseClick(browser.search_button, Qt.LeftButton)
    assert films.demo_study in listed_study_uids(browser)
    assert "found on orthanc" in browser.status_text()
    # the silent node's late failures (its echo, its search) change nothing on screen
    silent.close()
    qtbot.waitUntil(lambda: not browser.runner.busy, timeout=WAIT_MS)
    assert "found on orthanc" in browser.status_text() and films.demo_study in listed_study_uids(browser)


def test_enter_in_the_node_form_saves_it_and_test_can_be_asked_again(qtbot, pacs, orthanc, silent):
    pacs.nodes_action.trigger()
    dialog = pacs.nodes_dialog
    qtbot.waitExposed(dialog)
    qtbot.mouseClick(dialog.new_button, Qt.LeftButton)
    qtbot.keyClicks(dialog.name_edit, "typed")
    qtbot.keyClicks(dialog.host_edit, "127.0.0.1")
    dialog.port_spin.lineEdit().selectAll()
    qtbot.keyClicks(dialog.port_spin, str(silent.getsockname()[1]))
    qtbot.keyClicks(dialog.called_aet_edit, "SILENT")
    # Test on a PACS that never answers; Test can be pressed again at once (it waited the whole timeout)
    qtbot.mouseClick(dialog.test_button, Qt.LeftButton)
    assert "Asking typed" in dialog.status_label.text()
    assert dialog.test_button.isEnabled()
    dialog.port_spin.lineEdit().selectAll()
    qtbot.keyClicks(dialog.port_spin, str(orthanc.dicom_port))
    dialog.called_aet_edit.clear()
    qtbot.keyClicks(dialog.called_aet_edit, orthanc.aet)
    qtbot.mouseClick(dialog.test_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: "answered (C-ECHO)" in dialog.status_label.text(), timeout=WAIT_MS)
    silent.close()
    qtbot.waitUntil(lambda: not pacs.runner.busy, timeout=WAIT_MS)
    assert "answered (C-ECHO)" in dialog.status_label.text()  # the first test's late failure is not shown
    # Enter in the form saves the node (it used to run the echo: Test was the default button)
    with qtbot.waitSignal(dialog.nodesChanged, timeout=5000):
        qtbot.keyClick(dialog.called_aet_edit, Qt.Key_Return)
    assert pacs_cli.load_user_nodes()["typed"].port == orthanc.dicom_port


def test_the_browser_says_when_the_first_node_is_added(qtbot, window, orthanc, tmp_path):
    pacs_cli.save_user_nodes({})
    controller = install_pacs(window)
    controller.find_action.trigger()
    browser = controller.browser
    assert "No PACS node is set up yet" in browser.status_text()
    controller.nodes_action.trigger()
    dialog = controller.nodes_dialog
    qtbot.keyClicks(dialog.name_edit, "first")
    qtbot.keyClicks(dialog.host_edit, "127.0.0.1")
    dialog.port_spin.lineEdit().selectAll()
    qtbot.keyClicks(dialog.port_spin, str(orthanc.dicom_port))
    qtbot.keyClicks(dialog.called_aet_edit, orthanc.aet)
    with qtbot.waitSignal(dialog.nodesChanged):
        qtbot.mouseClick(dialog.save_button, Qt.LeftButton)
    assert browser.node_combo.currentData() == "first"
    assert "No PACS node" not in browser.status_text()  # the old sentence no longer stands


def test_retrieved_films_say_whose_they_are_and_which_image(qtbot, browser, films, orthanc):
    study, uids = upload_study(orthanc, films, "IMAGES-3", "Threefilms^Anna", count=3, Modality="DX")
    run_search(qtbot, browser, patient_id="IMAGES-3")
    select_study(qtbot, browser, study)
    with qtbot.waitSignal(browser.retrieveFinished, timeout=WAIT_MS):
        qtbot.mouseClick(browser.retrieve_button, Qt.LeftButton)
    lines = [browser.films_list.item(i).text() for i in range(browser.films_list.count())]
    assert len(lines) == 3 and len(set(lines)) == 3, lines  # three films of one series are told apart
    assert [Path(browser.films_list.item(i).data(Qt.UserRole)).stem for i in range(3)] == uids[::-1]  # image 1, 2, 3
    assert all(f"image {n}" in line for n, line in enumerate(lines, start=1))
    # another study chosen afterwards: the films still name their patient, so Open is not taken for the new one
    run_search(qtbot, browser, patient_id="DEMO-0001")
    select_study(qtbot, browser, films.demo_study)
    title = browser.films_box.title()
    assert "Threefilms, Anna" in title and "IMAGES-3" in title


def test_open_waits_for_the_unsaved_work_question(qtbot, browser, window, films, small_demo, no_modal_dialogs,
                                                  monkeypatch):
    film, case_path = small_demo
    open_and_wait(qtbot, window, film, load_case(case_path), case_path)
    window.doc.undo_stack.resetClean()  # the case has unsaved changes
    assert window.doc.modified
    browser.controller.find_action.trigger()
    run_search(qtbot, browser, patient_id="DEMO-0001")
    select_study(qtbot, browser, films.demo_study)
    with qtbot.waitSignal(browser.retrieveFinished, timeout=WAIT_MS):
        qtbot.mouseClick(browser.retrieve_button, Qt.LeftButton)
    qtbot.mouseClick(browser.open_button, Qt.LeftButton)  # the window asks; the user answers Cancel
    assert no_modal_dialogs[-1][0] == "question" and "unsaved changes" in no_modal_dialogs[-1][1]
    qtbot.wait(200)
    assert browser.isVisible()  # it used to vanish with nothing opened
    assert window.doc.film_path == film
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    with qtbot.waitSignal(window.filmLoaded, timeout=WAIT_MS):
        qtbot.mouseClick(browser.open_button, Qt.LeftButton)
    assert not browser.isVisible()
    assert window.doc.film_path == retrieve_dir(films.demo_study) / f"{films.demo_sop}.dcm"


def set_default_encoding(orthanc, encoding: str) -> None:
    import urllib.request

    request = urllib.request.Request(orthanc.rest + "/tools/default-encoding", data=encoding.encode(), method="PUT")
    urllib.request.urlopen(request, timeout=30).read()


def test_long_and_japanese_names_are_shown_whole_and_in_their_order(qtbot, browser, films, orthanc):
    long_name = "VAN DER BERGHE-WOLFESCHLEGELSTEIN^Maximiliana Theodora^^Dr"  # 58 of PN's 64 characters
    upload_study(orthanc, films, "NAMES-1", long_name, StudyDescription="Standing long-leg AP")
    set_default_encoding(orthanc, "Utf8")  # as a Japanese PACS answers; Orthanc's default is Latin-1
    try:
        upload_study(orthanc, films, "NAMES-2", "山田^太郎=ヤマダ^タロウ", SpecificCharacterSet="ISO_IR 192",
                     StudyDescription="下肢全長")
        run_search(qtbot, browser, patient_id="NAMES-*")
    finally:
        set_default_encoding(orthanc, "Latin1")
    table = browser.studies_table
    names = {table.item(r, 1).text(): table.item(r, 0) for r in range(table.rowCount())}
    assert names["NAMES-2"].text() == "山田 太郎 (ヤマダ タロウ)"  # family name first, no comma; then the kana
    assert person_name("Yamada^Tarou=山田^太郎") == "Yamada, Tarou (山田 太郎)"
    assert person_name("MÜLLER^Hans") == "MÜLLER, Hans"
    # the long name is cut to a sensible width (its tooltip has all of it) and the description stays in view
    long_item = names["NAMES-1"]
    assert long_item.text().startswith("VAN DER BERGHE-WOLFESCHLEGEL") and long_name.split("^")[1] in long_item.toolTip()
    name_width = table.columnWidth(0)
    assert name_width < table.fontMetrics().horizontalAdvance(long_item.text())
    description = 4  # STUDY_COLUMNS.index("Description")
    assert table.columnViewportPosition(description) + 80 < table.viewport().width()
    screenshot(browser, "pacs-4-long-and-japanese-names")


def test_dates_can_be_typed_and_a_wrong_one_is_refused(qtbot, browser, films):
    demo = pydicom.dcmread(films.demo, stop_before_pixels=True)
    day = QDate.fromString(str(demo.StudyDate), "yyyyMMdd")
    qtbot.mouseClick(browser.clear_button, Qt.LeftButton)
    qtbot.keyClicks(browser.id_edit, str(demo.PatientID))
    qtbot.keyClicks(browser.date_from, day.addDays(-1).toString("yyyy-MM-dd"))
    qtbot.keyClicks(browser.date_to, day.addDays(1).toString("yyyyMMdd"))
    fields = browser.fields()
    assert (fields.date_from, fields.date_to) == (day.addDays(-1).toString("yyyyMMdd"),
                                                  day.addDays(1).toString("yyyyMMdd"))
    with qtbot.waitSignal(browser.studiesShown, timeout=WAIT_MS):
        qtbot.keyClick(browser.date_to, Qt.Key_Return)  # Enter in a date field searches too
    assert browser.date_to.text() == day.addDays(1).toString("yyyy-MM-dd")  # written the usual way
    assert films.demo_study in listed_study_uids(browser)
    # a date that is not one is refused with a sentence, never taken for "any date"
    browser.date_to.clear()
    qtbot.keyClicks(browser.date_to, "2025-13-45")
    assert browser.date_to.styleSheet()  # shown in red
    browser.studies_table.setRowCount(0)
    qtbot.keyClick(browser.id_edit, Qt.Key_Return)
    assert "'to' (2025-13-45) is not a date" in browser.status_text()
    assert not browser.runner.busy and listed_study_uids(browser) == []
    # the calendar sets the field
    browser.date_to.clear()
    calendar = browser.date_to.show_calendar()
    calendar.clicked.emit(day)
    assert browser.date_to.date() == day and not calendar.isVisible()


def test_no_match_suggests_a_wildcard_and_recent_searches_can_be_cleared(qtbot, browser, window):
    run_search(qtbot, browser, name="DEMO")  # stored as DEMO^SYNTHETIC: an exact match finds nothing
    assert listed_study_uids(browser) == []
    assert "try DEMO*" in browser.status_text()
    assert browser.recent_searches()[0].patient_name == "DEMO"
    window.settings.sync()
    settings_file = Path(window.settings.fileName())
    assert "DEMO" in settings_file.read_text()
    combo = browser.recent_combo
    clear_at = combo.findData("clear")
    assert clear_at == combo.count() - 1 and combo.itemText(clear_at) == "Clear recent searches"
    combo.activated.emit(clear_at)  # as choosing the entry does
    assert browser.recent_searches() == []
    assert "DEMO" not in settings_file.read_text()  # written at once, not at the next quit
    assert not combo.isEnabled() and combo.findData("clear") < 0
    assert "cleared" in browser.status_text()


@pytest.fixture
def fresh_library_loggers():
    """The network libraries' loggers as a new process has them (another test, or the CLI, may have
    quieted them already); put back afterwards."""
    import logging

    levels = {name: logging.getLogger(name).level for name in ("pynetdicom", "dicomweb_client", "urllib3")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_no_patient_name_or_id_reaches_the_log(fresh_library_loggers, qtbot, window, nodes, films, orthanc, caplog):
    import logging

    caplog.set_level(logging.DEBUG)  # stricter than the application's INFO
    study, _ = upload_study(orthanc, films, "LOG-4711", "Logcheck^Hanako", AccessionNumber="ACC-9931",
                            PatientBirthDate="19610203")
    controller = install_pacs(window)
    controller.find_action.trigger()
    browser = controller.browser
    for node in ("orthanc", "web"):
        choose_node(browser, node)
        run_search(qtbot, browser, patient_id="LOG-4711")
        select_study(qtbot, browser, study)
        with qtbot.waitSignal(browser.retrieveFinished, timeout=WAIT_MS):
            qtbot.mouseClick(browser.retrieve_button, Qt.LeftButton)
    assert "Logcheck" in browser.studies_table.item(0, 0).text()
    logged = caplog.text
    for value in ("LOG-4711", "Logcheck", "Hanako", "ACC-9931", "19610203"):
        assert value not in logged, value


# --- review: send to PACS ---------------------------------------------------------------------------------------------


def own_study_film(films, orthanc, tmp_path, patient_id: str) -> tuple[Path, Path]:
    """A copy of the demo film in a study of its own on Orthanc, and its case."""
    ds = pydicom.dcmread(films.demo)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PatientID, ds.PatientName = patient_id, "Send^Review"
    film = tmp_path / f"{patient_id}.dcm"
    ds.save_as(film, enforce_file_format=True)
    orthanc.upload(film)
    case = json.loads(films.demo_case.read_text())
    case["image"].update(path=str(film), sop_instance_uid=str(ds.SOPInstanceUID))
    case_path = tmp_path / f"{patient_id}.case.json"
    case_path.write_text(json.dumps(case))
    return film, case_path


def study_series_count(orthanc, film: Path) -> int:
    study = orthanc.find("Study", {"StudyInstanceUID": str(pydicom.dcmread(film, stop_before_pixels=True).StudyInstanceUID)})
    return len(orthanc.get(f"/studies/{study[0]}")["Series"]) if study else 0


def test_send_says_what_the_analysis_holds_and_refuses_an_empty_one(qtbot, pacs, window, films, orthanc, tmp_path):
    from measurements.landmarks import Side

    film, case_path = own_study_film(films, orthanc, tmp_path, "SEND-EMPTY")
    open_and_wait(qtbot, window, film)  # no case: no landmark
    pacs.send_action.trigger()
    dialog = pacs.send_dialog
    qtbot.waitExposed(dialog)
    dialog.node_combo.setCurrentIndex(dialog.node_combo.findData("orthanc"))
    assert "No landmark is placed" in dialog.analysis_label.text()
    assert not dialog.send_button.isEnabled()

    # two landmarks placed while the window is open: sendable, but no measurement can be made
    truth = load_case(case_path)
    right = truth.limbs[Side.RIGHT].landmarks
    for name in ("femoral_head_center", "femoral_head_top"):
        window.doc.place_landmark(Side.RIGHT, name, right[name])
    text = dialog.analysis_label.text()
    assert "right limb 2 landmarks, 0 measurements" in text and "left limb not analysed" in text
    assert "landmarks only" in text and dialog.send_button.isEnabled()
    with qtbot.waitSignal(dialog.sendFinished, timeout=180000) as finished:
        qtbot.mouseClick(dialog.send_button, Qt.LeftButton)
    outcome = finished.args[0]
    assert outcome is not None and outcome.result.stored == 4, dialog.status_label.text()
    assert "landmarks only" in dialog.status_label.text()
    # and the report claims no measurement: no NUM item in the SR the PACS holds
    sr = next(o for o in outcome.objects if o.kind == "sr")
    import io

    stored = pydicom.dcmread(io.BytesIO(orthanc.instance_file(sr.sop_instance_uid)))

    def value_types(items):
        for item in items:
            yield item.ValueType
            yield from value_types(item.get("ContentSequence", []))

    assert "NUM" not in set(value_types(stored.ContentSequence))

    # a knee centre makes the femur length: one measurement
    window.doc.place_landmark(Side.RIGHT, "knee_center", right["knee_center"])
    assert "right limb 3 landmarks, 1 measurement" in dialog.analysis_label.text()


def test_send_follows_the_open_film_and_asks_before_sending_twice(qtbot, pacs, window, films, orthanc, tmp_path,
                                                                 no_modal_dialogs, monkeypatch):
    film_a, case_a = own_study_film(films, orthanc, tmp_path, "SEND-A")
    film_b, case_b = own_study_film(films, orthanc, tmp_path, "SEND-B")
    open_and_wait(qtbot, window, film_a, load_case(case_a), case_a)
    pacs.send_action.trigger()
    dialog = pacs.send_dialog
    qtbot.waitExposed(dialog)
    assert "SEND-A" in dialog.film_label.text()
    for kind in ("gsps", "sc", "pdf"):
        click_checkbox(qtbot, dialog.kind_boxes[kind])
    dialog.node_combo.setCurrentIndex(dialog.node_combo.findData("orthanc"))
    with qtbot.waitSignal(dialog.sendFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(dialog.send_button, Qt.LeftButton)
    assert finished.args[0] is not None and finished.args[0].result.stored == 1
    series = study_series_count(orthanc, film_a)
    assert series == 2  # the film and the SR

    # Send (or Enter) once more: the user is asked, and Cancel sends nothing
    qtbot.keyClick(dialog.send_button, Qt.Key_Return)
    assert no_modal_dialogs and no_modal_dialogs[-1][0] == "question" and "already stored" in no_modal_dialogs[-1][1]
    qtbot.wait(300)
    assert not pacs.runner.busy and study_series_count(orthanc, film_a) == series

    # another film opened while the window is open: the window follows it, and B has not been sent yet
    open_and_wait(qtbot, window, film_b, load_case(case_b), case_b)
    assert "SEND-B" in dialog.film_label.text() and "SEND-A" not in dialog.film_label.text()
    assert dialog.result_table.rowCount() == 0
    asked = len(no_modal_dialogs)
    with qtbot.waitSignal(dialog.sendFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(dialog.send_button, Qt.LeftButton)
    assert len(no_modal_dialogs) == asked  # not asked: this analysis was never sent
    assert finished.args[0] is not None and study_series_count(orthanc, film_b) == 2
