"""The agreement study view: readers' case files in, ICCs, SEM, MDC95 and Bland–Altman plots out.

A window over :func:`measurements.agreement.agreement` (practice.md, "Agreement between readers"):
the folder is read and analysed off the GUI thread; the table gives, per measurement, the six
intraclass correlations of McGraw & Wong with their 95 % intervals (ICC(A,1), the headline, first),
SEM and MDC95; choosing a row shows that measurement's Bland–Altman plot for every pair of readers
(drawn with QPainter), their bias and limits, and the intra-reader ICCs. "Write PDF…" writes the
same through :func:`deformity_app.agreement_report.build_agreement_pdf`.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Sequence

from PySide6.QtCore import QPointF, QRectF, QSettings, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from measurements.agreement import (
    HEADLINE,
    ICC_FORMS,
    NEGATIVE_NOTE,
    AgreementResult,
    BlandAltman,
    MeasurementAgreement,
    has_negative,
    icc_notes,
)

from .guard import guarded
from .practice import run_in_background

log = logging.getLogger(__name__)

FORM_ORDER: tuple[str, ...] = (HEADLINE,) + tuple(f for f in ICC_FORMS if f != HEADLINE)
PDF_FILTER = "PDF (*.pdf)"
# Names the ICC table shortens (the full name is the cell's tooltip), so that its eleven columns fit.
SHORT_LABELS = {"mechanical_axis_length_mm": "Mech. axis length", "mechanical_axis_length_px": "Mech. axis length (px)"}
BIAS = QColor(25, 85, 165)
LOA = QColor(200, 45, 35)
POINT = QColor(40, 40, 48)
GRID = QColor(225, 227, 232)
TEXT = QColor(60, 60, 66)


def _f(value: float | None, digits: int) -> str:
    if value is not None and math.isinf(value):
        return "−∞" if value < 0 else "∞"
    if value is None or not math.isfinite(value):
        return "—"
    text = f"{value:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", "−")


def _ci(ci: tuple[float, float] | None, digits: int = 2) -> str:
    """"[0.87, 0.97]"; an unbounded limit is "−∞"; "—" when the interval is undefined."""
    if ci is None or any(math.isnan(v) for v in ci):
        return "—"
    return f"[{_f(ci[0], digits)}, {_f(ci[1], digits)}]"


def _unit(unit: str) -> str:
    return {"deg": "°", "mm": " mm", "px": " px"}.get(unit, "")


def icc_cell(m: MeasurementAgreement, form: str) -> str:
    """"0.934 [0.87, 0.98]", or "—" when the ICC is undefined."""
    if m.icc is None or math.isnan(m.icc.icc[form]):
        return "—"
    return f"{_f(m.icc.icc[form], 3)} {_ci(m.icc.ci95[form])}"


class BlandAltmanPlot(QWidget):
    """Differences (first − second) against means, with the bias and the 95 % limits of agreement."""

    def __init__(self, ba: BlandAltman, first: str, second: str, unit: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ba, self.first, self.second, self.unit = ba, first, second, unit
        self.setMinimumSize(340, 240)
        subjects = ba.subjects or tuple("" for _ in ba.means)
        self.setToolTip("\n".join(f"{s}: mean {_f(m, 2)}, difference {_f(d, 2)}"
                                  for s, m, d in zip(subjects, ba.means, ba.differences)))

    @guarded
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        from ..agreement_report import nice_ticks

        ba = self.ba
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing, True)
        p.fillRect(self.rect(), QColor(255, 255, 255))
        small = QFont(self.font())
        small.setPointSizeF(max(self.font().pointSizeF() * 0.85, 7.0))
        bold = QFont(self.font())
        bold.setBold(True)
        metrics = QFontMetricsF(small)
        sym = _unit(self.unit).strip()
        unit_text = f" ({sym})" if sym else ""
        p.setFont(bold)
        p.setPen(TEXT)
        p.drawText(QRectF(8, 4, self.width() - 16, 20), Qt.AlignLeft | Qt.AlignVCenter,
                   f"{self.first} − {self.second}  (n = {ba.n})")
        left, right, top, bottom = 52.0, 84.0, 30.0, 42.0
        plot = QRectF(left, top, max(self.width() - left - right, 20), max(self.height() - top - bottom, 20))
        xs, ys = list(ba.means), list(ba.differences)
        lines = [ba.bias] + ([ba.loa[0], ba.loa[1]] if math.isfinite(ba.sd) else [])
        y_lo, y_hi = min(ys + lines + [0.0]), max(ys + lines + [0.0])
        pad = 0.12 * (y_hi - y_lo) if y_hi > y_lo else 1.0
        y_lo, y_hi = y_lo - pad, y_hi + pad
        x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
        xpad = 0.08 * (x_hi - x_lo) if x_hi > x_lo else 1.0
        x_lo, x_hi = x_lo - xpad, x_hi + xpad
        yt, xt = nice_ticks(y_lo, y_hi, 5), nice_ticks(x_lo, x_hi, 4)
        y_lo, y_hi = min(y_lo, yt[0]), max(y_hi, yt[-1])
        x_lo, x_hi = min(x_lo, xt[0]), max(x_hi, xt[-1])

        def px(x: float) -> float:
            return plot.left() + (x - x_lo) / (x_hi - x_lo) * plot.width()

        def py(y: float) -> float:
            return plot.bottom() - (y - y_lo) / (y_hi - y_lo) * plot.height()

        def ticks_text(value: float, ticks: Sequence[float]) -> str:
            step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
            return _f(value, 0 if step >= 1 else (1 if step >= 0.1 else 2))

        p.setFont(small)
        p.fillRect(plot, QColor(250, 250, 252))
        for t in yt:
            y = py(t)
            p.setPen(QPen(GRID, 1))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(TEXT)
            p.drawText(QRectF(0, y - 8, left - 6, 16), Qt.AlignRight | Qt.AlignVCenter, ticks_text(t, yt))
        for t in xt:
            x = px(t)
            p.setPen(QPen(GRID, 1))
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            p.setPen(TEXT)
            p.drawText(QRectF(x - 30, plot.bottom() + 3, 60, 14), Qt.AlignCenter, ticks_text(t, xt))
        p.setPen(QPen(TEXT, 1.2))
        p.drawLine(plot.bottomLeft(), plot.topLeft())
        p.drawLine(plot.bottomLeft(), plot.bottomRight())
        if y_lo < 0 < y_hi:
            p.setPen(QPen(QColor(150, 150, 160), 1, Qt.DotLine))
            p.drawLine(QPointF(plot.left(), py(0)), QPointF(plot.right(), py(0)))

        def hline(y: float, colour: QColor, dashed: bool, name: str) -> None:
            p.setPen(QPen(colour, 1.6, Qt.DashLine if dashed else Qt.SolidLine))
            p.drawLine(QPointF(plot.left(), py(y)), QPointF(plot.right(), py(y)))
            p.setPen(colour)
            p.drawText(QRectF(plot.right() + 5, py(y) - 15, right - 6, 14), Qt.AlignLeft | Qt.AlignBottom, name)
            p.drawText(QRectF(plot.right() + 5, py(y) + 1, right - 6, 14), Qt.AlignLeft | Qt.AlignTop,
                       _f(y, 2) + _unit(self.unit))

        if math.isfinite(ba.sd) and ba.sd > 0:  # with SD 0 the limits would hide the bias line
            hline(ba.loa[1], LOA, True, "+1.96 SD")
            hline(ba.loa[0], LOA, True, "−1.96 SD")
        hline(ba.bias, BIAS, False, "bias")
        stacked: dict[tuple[float, float], int] = {}
        for x, y in zip(xs, ys):
            spot = (round(px(x), 1), round(py(y), 1))
            stacked[spot] = stacked.get(spot, 0) + 1
        for (x, y), count in stacked.items():
            p.setPen(QPen(QColor(255, 255, 255), 1.2))
            p.setBrush(POINT)
            p.drawEllipse(QPointF(x, y), 3.6, 3.6)
            if count > 1:  # subjects on the same spot would hide each other
                p.setPen(POINT)
                p.drawText(QPointF(x + 5, y - 4), f"×{count}")
        p.setPen(TEXT)
        p.drawText(QRectF(plot.left(), plot.bottom() + 18, plot.width(), 16), Qt.AlignCenter,
                   f"Mean of {self.first} and {self.second}{unit_text}")
        p.save()
        p.translate(12, plot.center().y())
        p.rotate(-90)
        label = f"{self.first} − {self.second}{unit_text}"
        w = metrics.horizontalAdvance(label) + 10
        p.drawText(QRectF(-w / 2, -8, w, 16), Qt.AlignCenter, label)
        p.restore()
        p.end()


def _table(headers: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(22)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setSelectionMode(QAbstractItemView.SingleSelection)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def _set(table: QTableWidget, row: int, col: int, text: str, tip: str = "", bold: bool = False) -> None:
    item = QTableWidgetItem(text)
    if tip:
        item.setToolTip(tip)
    if bold:
        font = item.font()
        font.setBold(True)
        item.setFont(font)
    if col > 0:
        item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
    table.setItem(row, col, item)


class StudyView(QDialog):
    """Inter- and intra-reader agreement of a folder of readers' case files."""

    loaded = Signal(object)  # AgreementResult
    failed = Signal(str)
    pdfWritten = Signal(object)  # Path

    # the headline and what it means first; the other five forms after
    ICC_HEADERS = (("Measurement", "n", f"{HEADLINE} [95 % CI]", "Reading (Koo & Li)", "SEM", "MDC95")
                   + tuple(f"{form} [95 % CI]" for form in FORM_ORDER[1:]))

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Agreement study")
        self.result: AgreementResult | None = None
        self.folder: Path | None = None
        self._busy = False
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.folder_label = QLabel("No study folder open.")
        self.folder_label.setWordWrap(True)
        top.addWidget(self.folder_label, 1)
        self.open_button = QPushButton("Open readers' folder…")
        self.open_button.clicked.connect(self.choose_folder)
        top.addWidget(self.open_button)
        self.pdf_button = QPushButton("Write PDF…")
        self.pdf_button.clicked.connect(self.write_pdf)
        self.pdf_button.setEnabled(False)
        top.addWidget(self.pdf_button)
        layout.addLayout(top)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.RichText)
        layout.addWidget(self.summary)

        self.icc_table = _table(self.ICC_HEADERS)
        self.icc_table.horizontalHeader().setStretchLastSection(False)  # scroll rather than cut a number short
        self.icc_table.itemSelectionChanged.connect(self._show_selected)
        splitter = QSplitter(Qt.Vertical)
        splitter.addWidget(self.icc_table)

        lower = QWidget()
        lower_layout = QHBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        plots_box = QWidget()
        plots_layout = QVBoxLayout(plots_box)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        self.plots_title = QLabel()
        bold = self.plots_title.font()
        bold.setBold(True)
        self.plots_title.setFont(bold)
        plots_layout.addWidget(self.plots_title)
        self.selected_notes = QLabel()  # the selected measurement's undefined or unbounded values
        self.selected_notes.setWordWrap(True)
        self.selected_notes.setStyleSheet("color: #7a4a00")
        self.selected_notes.hide()
        plots_layout.addWidget(self.selected_notes)
        self.plots = QWidget()
        self.plots_grid = QGridLayout(self.plots)
        self.plots_grid.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidget(self.plots)
        scroll.setWidgetResizable(True)
        plots_layout.addWidget(scroll, 1)
        lower_layout.addWidget(plots_box, 3)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(QLabel("Bland–Altman, per pair of readers"))
        self.ba_table = _table(("Readers", "n", "Bias", "SD", "95 % limits of agreement"))
        side_layout.addWidget(self.ba_table, 1)
        side_layout.addWidget(QLabel("Intra-reader (each reader's sessions)"))
        self.intra_table = _table(("Reader", "Sessions", "n", "ICC(A,1) [95 % CI]", "SEM"))
        side_layout.addWidget(self.intra_table, 1)
        self.skipped_label = QLabel()
        self.skipped_label.setWordWrap(True)
        self.skipped_label.setStyleSheet("color: #555")
        side_layout.addWidget(self.skipped_label)
        lower_layout.addWidget(side, 2)
        splitter.addWidget(lower)
        splitter.setSizes([390, 430])
        layout.addWidget(splitter, 1)
        self.values_note = QLabel()  # negative ICCs, unbounded limits: what they mean
        self.values_note.setWordWrap(True)
        self.values_note.setTextFormat(Qt.RichText)
        self.values_note.setStyleSheet("color: #7a4a00")
        layout.addWidget(self.values_note)
        note = QLabel("ICCs after McGraw & Wong (1996) from each reader's first session, over the subjects (limbs) "
                      "every reader measured; ICC(A,1) (absolute agreement, single reader) is the headline, read "
                      "from its interval after Koo & Li (2016). SEM = SD × √(1 − ICC(A,1)); "
                      "MDC95 = 1.96 × √2 × SEM.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #555")
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(1360, 900)  # the ICC table's eleven columns fit without scrolling

    # --- loading ---------------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = str((self.settings.value("practice/study_folder", "") if self.settings else "") or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "The folder of the readers' case files", start)
        if folder:
            self.load(Path(folder))

    def load(self, folder: Path) -> None:
        """Read and analyse `folder` off the GUI thread; `loaded` or `failed` follows."""
        from measurements.agreement import agreement

        if self._busy:
            return
        self._busy = True
        self.folder = Path(folder)
        if self.settings is not None:
            self.settings.setValue("practice/study_folder", str(folder))
        self.folder_label.setText(f"Reading {folder}…")
        self.open_button.setEnabled(False)
        self.pdf_button.setEnabled(False)

        def done(result: Any, error: str, _cancelled: bool) -> None:
            self._busy = False
            self.open_button.setEnabled(True)
            if result is None:
                self.folder_label.setText(f"{folder}: {error or 'not analysed'}")
                QMessageBox.warning(self, "Agreement study", f"The study in {folder} cannot be analysed: {error}.")
                self.failed.emit(error)
                return
            self.set_result(result)

        run_in_background(lambda _report: agreement(folder), done)

    def set_result(self, result: AgreementResult) -> None:
        self.result = result
        self.folder = result.folder
        self.folder_label.setText(f"<b>{result.folder}</b>")
        sessions = "; ".join(f"{r}: session{'s' if len(s) > 1 else ''} {', '.join(map(str, s))}"
                             for r, s in result.sessions.items())
        missing = [f"{r} ({len(s)})" for r, s in result.not_measured.items() if s]
        self.summary.setText(
            f"Readers {', '.join(result.readers) or '—'} ({sessions or 'no session'}); "
            f"{len(result.subjects)} subjects (limbs of films); {len(result.measurements)} measurements present in "
            "3 or more subjects."
            + (f" Subjects a reader's first session lacks: {', '.join(missing)}." if missing else "")
            + (f" <b>{len(result.skipped)} file{'' if len(result.skipped) == 1 else 's'} left out</b> "
               "(listed below)." if result.skipped else ""))
        self.skipped_label.setText("Left out: " + "; ".join(f"{s.file}: {s.reason}" for s in result.skipped)
                                   if result.skipped else "")
        t = self.icc_table
        t.blockSignals(True)
        t.setRowCount(len(result.measurements))
        from ..agreement_report import koo_li_reading, measurement_label

        for row, (key, m) in enumerate(result.measurements.items()):
            sym = _unit(m.unit)
            _set(t, row, 0, SHORT_LABELS.get(key, measurement_label(key)), tip=measurement_label(key))
            t.item(row, 0).setData(Qt.UserRole, key)
            _set(t, row, 1, str(m.n))
            tip = m.unavailable or "\n".join(icc_notes(m.icc) if m.icc is not None else [])
            _set(t, row, 2, icc_cell(m, HEADLINE), tip=tip, bold=True)
            reading = koo_li_reading(m.icc.ci95[HEADLINE]) if m.icc is not None else (m.unavailable or "—")
            t.setItem(row, 3, QTableWidgetItem(reading))
            _set(t, row, 4, _f(m.sem, 2) + sym if math.isfinite(m.sem) else "—")
            _set(t, row, 5, _f(m.mdc95, 2) + sym if math.isfinite(m.mdc95) else "—")
            for i, form in enumerate(FORM_ORDER[1:]):
                _set(t, row, 6 + i, icc_cell(m, form), tip=tip)
        t.blockSignals(False)
        negative = any(has_negative(m.icc) for m in result.measurements.values())
        self.values_note.setText(f"<b>Below 0.</b> {NEGATIVE_NOTE}" if negative else "")
        self.values_note.setVisible(negative)
        self.pdf_button.setEnabled(bool(result.measurements))
        if result.measurements:
            t.selectRow(0)
        self._show_selected()
        self.loaded.emit(result)

    def row_of(self, key: str) -> int:
        for row in range(self.icc_table.rowCount()):
            if self.icc_table.item(row, 0).data(Qt.UserRole) == key:
                return row
        return -1

    def selected_key(self) -> str | None:
        rows = self.icc_table.selectionModel().selectedRows()
        return self.icc_table.item(rows[0].row(), 0).data(Qt.UserRole) if rows else None

    def _show_selected(self) -> None:
        while self.plots_grid.count():
            widget = self.plots_grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.ba_table.setRowCount(0)
        self.intra_table.setRowCount(0)
        key = self.selected_key()
        if self.result is None or key is None:
            self.plots_title.setText("")
            self.selected_notes.hide()
            return
        from ..agreement_report import measurement_label

        m = self.result.measurements[key]
        sym = _unit(m.unit)
        notes = icc_notes(m.icc) if m.icc is not None else []
        self.plots_title.setText(f"{measurement_label(key)}: Bland–Altman plots")
        self.plots_title.setToolTip("\n".join(notes))
        self.selected_notes.setText("; ".join(notes) + "." if notes else "")
        self.selected_notes.setVisible(bool(notes))
        self.ba_plots: list[BlandAltmanPlot] = []
        for i, (pair, ba) in enumerate(m.bland_altman.items()):
            first, second = pair.split("|", 1)
            plot = BlandAltmanPlot(ba, first, second, m.unit)
            self.plots_grid.addWidget(plot, i // 2, i % 2)
            self.ba_plots.append(plot)
        self.ba_table.setRowCount(len(m.bland_altman))
        for row, (pair, ba) in enumerate(m.bland_altman.items()):
            first, second = pair.split("|", 1)
            _set(self.ba_table, row, 0, f"{first} − {second}")
            _set(self.ba_table, row, 1, str(ba.n))
            _set(self.ba_table, row, 2, _f(ba.bias, 2) + sym)
            finite = math.isfinite(ba.sd)
            _set(self.ba_table, row, 3, _f(ba.sd, 2) + sym if finite else "—")
            _set(self.ba_table, row, 4, f"{_f(ba.loa[0], 2)} to {_f(ba.loa[1], 2)}{sym}" if finite else "—")
        self.intra_table.setRowCount(len(m.intra))
        for row, (reader, intra) in enumerate(m.intra.items()):
            ci = intra.icc.ci95[HEADLINE] if intra.icc is not None else None
            _set(self.intra_table, row, 0, reader)
            _set(self.intra_table, row, 1, ", ".join(map(str, intra.sessions)))
            _set(self.intra_table, row, 2, str(intra.n))
            _set(self.intra_table, row, 3, f"{_f(intra.icc_a1, 3)} {_ci(ci)}" if intra.icc is not None
                 else (intra.unavailable or "—"))
            _set(self.intra_table, row, 4, _f(intra.sem, 2) + sym if math.isfinite(intra.sem) else "—")
        if not m.intra:
            self.intra_table.setRowCount(1)
            self.intra_table.setItem(0, 0, QTableWidgetItem("No reader read the films in two sessions."))
            self.intra_table.setSpan(0, 0, 1, self.intra_table.columnCount())

    # --- the PDF ---------------------------------------------------------------------------------------
    def write_pdf(self) -> None:
        """Ask where, then write the study's PDF off the GUI thread; `pdfWritten` follows."""
        from ..agreement_report import AgreementReportError, build_agreement_pdf

        result = self.result
        if result is None:
            return
        suggestion = result.folder.parent / f"{result.folder.name or 'study'}-agreement.pdf"
        path, _ = QFileDialog.getSaveFileName(self, "Write the agreement study as PDF", str(suggestion), PDF_FILTER)
        if not path:
            return
        out = Path(path if path.lower().endswith(".pdf") else path + ".pdf")
        self.pdf_button.setEnabled(False)

        def build(_report) -> Path:
            try:
                build_agreement_pdf(result, out)
            except AgreementReportError as exc:
                raise ValueError(str(exc)) from None
            return out

        def done(written: Any, error: str, _cancelled: bool) -> None:
            self.pdf_button.setEnabled(True)
            if written is None:
                QMessageBox.warning(self, "Agreement study", f"The PDF could not be written: {error}.")
                return
            self.folder_label.setText(f"<b>{result.folder}</b> — PDF written to {written}")
            self.pdfWritten.emit(written)

        run_in_background(build, done)


__all__ = ["BlandAltmanPlot", "StudyView", "icc_cell"]
