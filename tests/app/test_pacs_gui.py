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
    assert browser.date_to.is_any() and browser.date_to.text() == "any" and browser.fields().date_to == ""
    qtbot.keyClick(browser.date_to, Qt.Key_Up)  # from "any": today, not 1900-01-02
    assert browser.date_to.date() == QDate.currentDate()
    assert browser.fields().date_to == QDate.currentDate().toString("yyyyMMdd")
    qtbot.keyClick(browser.date_to, Qt.Key_Down)
    assert browser.date_to.date() == QDate.currentDate().addDays(-1)
    browser.date_to.lineEdit().selectAll()
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
