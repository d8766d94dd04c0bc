"""File > Export report: the options of the printed analysis, a preview of what will print, the PDF.

The dialog only gathers choices and shows them; the PDF itself is made by `deformity_app.report`
(reportlab, no Qt), the same code the command line `deformity-app report` runs.
"""
from __future__ import annotations

import getpass
from datetime import datetime
import logging
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QLocale, QSettings, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPushButton, QTextBrowser, QVBoxLayout,
                               QWidget)

from measurements.case import Case
from measurements.landmarks import Side
from measurements.measure import measure_case
from measurements.overlay import Layer

from ..report import (JOINTS, case_reader, ReportError, ReportInfo, ReportOptions, build_report, load_report_settings,
                      printed_header, settings_path)

log = logging.getLogger(__name__)

PAPERS = (("a4", "A4 (210 x 297 mm)"), ("letter", "US Letter (8.5 x 11 in)"))


@dataclass(slots=True)
class _Doc:
    """What the dialog needs of the open work (a CaseDocument has the same attributes)."""

    case: Case
    case_path: Path | None
    radiograph: Any
    film_path: Path | None


def _default_paper() -> str:
    # the countries that print on US Letter
    letter = {QLocale.UnitedStates, QLocale.Canada, QLocale.Mexico, QLocale.Philippines, QLocale.Chile,
              QLocale.Colombia, QLocale.Venezuela}
    return "letter" if QLocale.system().territory() in letter else "a4"


def _default_output(doc: Any) -> Path:
    case_path = getattr(doc, "case_path", None)
    if case_path is not None:
        name = Path(case_path).name
        stem = name[: -len(".case.json")] if name.endswith(".case.json") else Path(case_path).stem
        return Path(case_path).with_name(stem + ".report.pdf")
    film_path = getattr(doc, "film_path", None)
    if film_path is not None:
        return Path(film_path).with_name(Path(film_path).stem + ".report.pdf")
    return Path.home() / "report.pdf"


class ReportDialog(QDialog):
    """Choose the report's options, see what will print, and write the PDF on "Export PDF".

    `doc_like` has `case`, `case_path`, `radiograph` and `film_path` (the GUI's CaseDocument does).
    After `exec()` returns Accepted, `result_path` and `info` describe the file written.
    """

    def __init__(self, parent: QWidget | None, doc_like: Any, *, window: tuple[float, float] | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export report")
        self.doc = doc_like
        self.window_override = window
        self.settings = settings or QSettings(str(settings_path()), QSettings.IniFormat)
        self.result_path: Path | None = None
        self.info: ReportInfo | None = None
        stored = load_report_settings()

        # --- the file and the paper
        self.out_edit = QLineEdit(str(_default_output(doc_like)))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_output)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(browse)
        self.paper_combo = QComboBox()
        for key, text in PAPERS:
            self.paper_combo.addItem(text, key)
        paper = str(self.settings.value("report/paper", _default_paper()))
        self.paper_combo.setCurrentIndex(max(0, [k for k, _ in PAPERS].index(paper) if paper in dict(PAPERS) else 0))

        # --- privacy
        self.anonymize_check = QCheckBox("Anonymise: leave out the patient's name, ID, birth date, accession number "
                                         "and file names")
        self.institution_check = QCheckBox("Keep the institution in the anonymised report")
        self.institution_check.setEnabled(False)
        self.anonymize_check.toggled.connect(self.institution_check.setEnabled)

        # --- header
        self.clinic_edit = QLineEdit(stored.clinic_name)
        self.clinic_edit.setPlaceholderText("printed at the top of every page")
        self.logo_edit = QLineEdit(str(stored.clinic_logo) if stored.clinic_logo else "")
        self.logo_edit.setPlaceholderText("a PNG or JPEG image (optional)")
        logo_browse = QPushButton("Browse…")
        logo_browse.clicked.connect(self._browse_logo)
        logo_row = QHBoxLayout()
        logo_row.addWidget(self.logo_edit, 1)
        logo_row.addWidget(logo_browse)
        self.remember_check = QCheckBox("Remember the clinic name and logo")
        self.remember_check.setChecked(True)
        case = doc_like.case
        self.reader_edit = QLineEdit(case_reader(case) or _os_user())

        # --- content
        self.panels_check = QCheckBox("Zoomed views of each hip, knee and ankle")
        self.panels_check.setChecked(True)
        self.planning_check = QCheckBox("A planning page for each limb with osteotomy plans")
        self.planning_check.setChecked(True)
        self.layer_checks: dict[Layer, QCheckBox] = {}
        layers_box = QGroupBox("Lines drawn on the film")
        layers_layout = QHBoxLayout(layers_box)
        for layer in Layer:
            check = QCheckBox(layer.label)
            check.setChecked(True)
            self.layer_checks[layer] = check
            layers_layout.addWidget(check)
        self.open_check = QCheckBox("Open the PDF when it is written")
        self.open_check.setChecked(str(self.settings.value("report/open_after", "true")).lower() == "true")

        form = QFormLayout()
        form.addRow("Save as", out_row)
        form.addRow("Paper", self.paper_combo)
        form.addRow("Clinic name", self.clinic_edit)
        form.addRow("Clinic logo", logo_row)
        form.addRow("", self.remember_check)
        form.addRow("Measured by", self.reader_edit)

        self.preview = QTextBrowser()
        self.preview.setOpenLinks(False)
        self.preview.setMinimumWidth(330)

        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.anonymize_check)
        left.addWidget(self.institution_check)
        left.addWidget(layers_box)
        left.addWidget(self.panels_check)
        left.addWidget(self.planning_check)
        left.addStretch(1)
        left.addWidget(self.open_check)
        right = QVBoxLayout()
        right.addWidget(QLabel("<b>What will print</b>"))
        right.addWidget(self.preview, 1)
        body = QHBoxLayout()
        body.addLayout(left, 3)
        body.addLayout(right, 2)

        self.buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.export_button = self.buttons.addButton("Export PDF", QDialogButtonBox.AcceptRole)
        self.export_button.setDefault(True)
        self.buttons.accepted.connect(self.export)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)

        for widget in (self.anonymize_check, self.institution_check, self.panels_check, self.planning_check,
                       *self.layer_checks.values()):
            widget.toggled.connect(self._update_preview)
        for edit in (self.clinic_edit, self.reader_edit, self.logo_edit):
            edit.textChanged.connect(self._update_preview)
        self.paper_combo.currentIndexChanged.connect(self._update_preview)
        self._result = measure_case(case)
        self._update_preview()

    # --- choices ------------------------------------------------------------------------------------
    def options(self) -> ReportOptions:
        logo = self.logo_edit.text().strip()
        return ReportOptions(
            paper=str(self.paper_combo.currentData()),
            anonymize=self.anonymize_check.isChecked(),
            keep_institution=self.anonymize_check.isChecked() and self.institution_check.isChecked(),
            clinic_name=self.clinic_edit.text().strip(),
            clinic_logo=Path(logo).expanduser() if logo else None,
            reader=self.reader_edit.text().strip() or None,
            joint_panels=self.panels_check.isChecked(),
            planning=self.planning_check.isChecked(),
            layers=frozenset(layer for layer, check in self.layer_checks.items() if check.isChecked()),
            window=self.window_override,
            # unsaved edits were made now, not when the case file was last written
            measured_at=datetime.now() if getattr(self.doc, "modified", False) else None,
        )

    def output_path(self) -> Path:
        text = self.out_edit.text().strip()
        path = Path(text).expanduser() if text else _default_output(self.doc)
        return path if path.suffix.lower() == ".pdf" else path.with_name(path.name + ".pdf")

    # --- preview --------------------------------------------------------------------------------------
    def _update_preview(self) -> None:
        options = self.options()
        metadata = getattr(self.doc.radiograph, "metadata", None)
        hd = printed_header(self.doc.case, self.doc.case_path, metadata, self.doc.film_path, options)
        rows: list[tuple[str, str]] = [
            ("Patient", hd.patient_name), ("Patient ID", hd.patient_id), ("Birth date", hd.birth_date),
            ("Sex", hd.sex), ("Study date", hd.study_date), ("Accession", hd.accession), ("View", hd.view),
            ("Institution", hd.institution), ("Footer", f"Case: {hd.case_label}"),
        ]
        rows += [("Clinic", options.clinic_name or "—"), ("Measured by", hd.reader), ("Measured on", hd.measured),
                 ("Paper", dict(PAPERS)[options.paper])]
        table = "".join(f"<tr><td style='color:#666;padding-right:8px'>{escape(k)}</td>"
                        f"<td><b>{escape(v)}</b></td></tr>" for k, v in rows)
        pages = ["Page 1: the whole film with the lines"
                 + (f" ({', '.join(lay.label.lower() for lay in Layer if lay in options.layers)})"
                    if options.layers else " (none chosen: the film alone)")
                 + ", the findings and the malalignment test",
                 "Page 2: the measurement table of each limb with normal ranges and flags, the limb-length "
                 "discrepancy, the calibration and the notes on observer error"]
        if options.joint_panels:
            views = self._joint_views()
            pages.append("Page 3: zoomed views: " + (", ".join(views) if views else "none (too few landmarks)"))
        planned = self._planned_limbs()
        if options.planning and planned:
            pages.append("Then a planning page per limb: " + "; ".join(planned)
                         + " (CORA, before and after drawings, predicted values, growth)")
        warnings = []
        if not self.doc.case.calibrated:
            warnings.append("The film is uncalibrated: every length prints in pixels.")
        if self.doc.radiograph is None:
            warnings.append("No film is open: the lines print on a blank background.")
        html = (f"<table>{table}</table><p>{'<br>'.join(escape(p) for p in pages)}</p>"
                + "".join(f"<p style='color:#a00000'>{escape(w)}</p>" for w in warnings))
        self.preview.setHtml(html)

    def _planned_limbs(self) -> list[str]:
        """The limbs with osteotomy plans, as "right limb, 2 plans"."""
        out = []
        for side in (Side.RIGHT, Side.LEFT):
            limb = self.doc.case.limbs.get(side)
            plans = limb.extra.get("plans") if limb is not None else None
            if isinstance(plans, list) and plans:
                out.append(f"{side.label.lower()} limb, {len(plans)} plan{'s' if len(plans) > 1 else ''}")
        return out

    def _joint_views(self) -> list[str]:
        views = []
        for joint, names, _keys in JOINTS:
            for side in (Side.RIGHT, Side.LEFT):
                limb = self.doc.case.limbs.get(side)
                if limb is not None and sum(n in limb.landmarks for n in names) >= 2:
                    views.append(f"{side.label.lower()} {joint}")
        return views

    # --- actions ---------------------------------------------------------------------------------------
    def _browse_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the report as", str(self.output_path()), "PDF (*.pdf)")
        if path:
            self.out_edit.setText(path)

    def _browse_logo(self) -> None:
        start = self.logo_edit.text().strip() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Clinic logo", start, "Images (*.png *.jpg *.jpeg)")
        if path:
            self.logo_edit.setText(path)

    def export(self) -> None:
        """Write the PDF with the chosen options; on success remember the choices and close."""
        options = self.options()
        out = self.output_path()
        QGuiApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            info = build_report(self.doc.case, self.doc.case_path, self.doc.radiograph, out, options,
                                film_path=self.doc.film_path, result=self._result)
        except ReportError as exc:
            QGuiApplication.restoreOverrideCursor()
            QMessageBox.warning(self, "Report not written", str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a bug must not close the application
            QGuiApplication.restoreOverrideCursor()
            log.exception("report failed")
            QMessageBox.critical(self, "Report not written",
                                 f"The report could not be made ({type(exc).__name__}). Please report this problem.")
            return
        QGuiApplication.restoreOverrideCursor()
        self.result_path, self.info = out, info
        self._remember(options)
        if info.warnings:
            QMessageBox.information(self, "Report written", "\n".join(info.warnings))
        if self.open_check.isChecked():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(out)))
        self.accept()

    def _remember(self, options: ReportOptions) -> None:
        s = self.settings
        s.setValue("report/paper", options.paper)
        s.setValue("report/open_after", "true" if self.open_check.isChecked() else "false")
        if self.remember_check.isChecked():
            s.setValue("report/clinic_name", options.clinic_name or "")
            s.setValue("report/clinic_logo", str(options.clinic_logo) if options.clinic_logo else "")
        s.sync()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return ""


def export_report_dialog(parent: QWidget | None, case: Case, case_path: Path | None, radiograph: Any,
                         film_path: Path | None, *, window: tuple[float, float] | None = None) -> Path | None:
    """Show the report dialog for the open work; the PDF written, or None when cancelled.

    `window` (centre, width in modality values) prints the film as the viewer shows it; by default
    the film's first window preset (or its automatic window).
    """
    dialog = ReportDialog(parent, _Doc(case, case_path, radiograph, film_path), window=window)
    try:
        if dialog.exec() == QDialog.Accepted:
            return dialog.result_path
        return None
    finally:
        dialog.deleteLater()
