"""File > Export report: the dialog shows its options and what will print, and writes the PDF."""
from __future__ import annotations

import pytest
from pypdf import PdfReader

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QDialog  # noqa: E402

from dicom_io.demo import bank_specs, write_demo  # noqa: E402
from dicom_io.film import open_film  # noqa: E402
from measurements.case import load_case  # noqa: E402
from measurements.overlay import Layer  # noqa: E402
from deformity_app.gui.report_dialog import ReportDialog, _Doc, export_report_dialog  # noqa: E402
from deformity_app.report import load_report_settings, settings_path  # noqa: E402


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dialog-demo")
    return write_demo(folder, bank_specs(0.6)["proximal_tibial_varus"], "patient")


@pytest.fixture
def doc(demo_files):
    film, case_path = demo_files
    return _Doc(load_case(case_path), case_path, open_film(film), film)


def _dialog(qtbot, doc) -> ReportDialog:
    dialog = ReportDialog(None, doc, settings=QSettings(str(settings_path()), QSettings.IniFormat))
    qtbot.addWidget(dialog)
    dialog.open_check.setChecked(False)  # no PDF viewer in a test
    return dialog


def test_options_are_shown_with_a_preview(qtbot, doc):
    dialog = _dialog(qtbot, doc)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.out_edit.text().endswith("patient.report.pdf")
    assert [dialog.paper_combo.itemData(i) for i in range(dialog.paper_combo.count())] == ["a4", "letter"]
    assert set(dialog.layer_checks) == set(Layer) and all(c.isChecked() for c in dialog.layer_checks.values())
    assert dialog.anonymize_check.isVisible() and dialog.panels_check.isChecked()
    preview = dialog.preview.toPlainText()
    assert "DEMO, SYNTHETIC" in preview and "DEMO-0001" in preview and "right knee" in preview
    # anonymising changes the preview at once, and enables the institution switch
    assert not dialog.institution_check.isEnabled()
    qtbot.mouseClick(dialog.anonymize_check, Qt.LeftButton)
    assert dialog.institution_check.isEnabled()
    preview = dialog.preview.toPlainText()
    assert "Anonymised" in preview and "DEMO-0001" not in preview and "anonymised case" in preview
    options = dialog.options()
    assert options.anonymize and not options.keep_institution and options.paper in ("a4", "letter")


def test_export_writes_the_pdf_and_remembers_the_clinic(qtbot, doc, tmp_path):
    dialog = _dialog(qtbot, doc)
    out = tmp_path / "chart copy.pdf"
    dialog.out_edit.setText(str(out))
    dialog.paper_combo.setCurrentIndex(1)
    dialog.clinic_edit.setText("Clinique Saint-Éloi, Lyon")
    dialog.reader_edit.setText("Dr Q")
    dialog.layer_checks[Layer.ANATOMIC].setChecked(False)
    dialog.panels_check.setChecked(False)
    qtbot.mouseClick(dialog.export_button, Qt.LeftButton)
    assert dialog.result() == QDialog.Accepted
    assert dialog.result_path == out and out.is_file()
    reader = PdfReader(str(out))
    assert len(reader.pages) == dialog.info.page_count == 2  # no joint views
    assert [round(float(v)) for v in reader.pages[0].mediabox[2:]] == [612, 792]
    first = " ".join(reader.pages[0].extract_text().split())
    assert "Clinique Saint-Éloi, Lyon" in first and "Dr Q" in first and "DEMO, SYNTHETIC" in first
    assert "aLDFA" not in first  # the anatomic layer was left out of the film
    # QSettings wrote the INI file; the report module (no Qt) reads the same values back
    settings = load_report_settings()
    assert settings.clinic_name == "Clinique Saint-Éloi, Lyon"


def test_error_keeps_the_dialog_open(qtbot, doc, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args[2]))
    dialog = _dialog(qtbot, doc)
    dialog.out_edit.setText(str(tmp_path / "no such folder" / "r.pdf"))
    dialog.export()
    assert shown and "cannot be written" in shown[0]
    assert dialog.result_path is None and dialog.result() != QDialog.Accepted


def test_entry_point_returns_none_when_cancelled(qtbot, doc, monkeypatch):
    monkeypatch.setattr(ReportDialog, "exec", lambda self: QDialog.Rejected)
    assert export_report_dialog(None, doc.case, doc.case_path, doc.radiograph, doc.film_path) is None


def test_entry_point_returns_the_pdf(qtbot, doc, monkeypatch, tmp_path):
    out = tmp_path / "r.pdf"

    def run(self):
        self.open_check.setChecked(False)
        self.out_edit.setText(str(out))
        self.export()
        return self.result()

    monkeypatch.setattr(ReportDialog, "exec", run)
    assert export_report_dialog(None, doc.case, doc.case_path, doc.radiograph, doc.film_path) == out
    assert out.read_bytes().startswith(b"%PDF")
