"""File > Find on PACS: search a PACS, look at a study's series, retrieve, and open the film.

The browser is a window of its own (not modal): choose a node (the named nodes of ``pacs.json``),
fill any of patient name (DICOM wildcards ``*`` and ``?``), patient ID, accession number, study
date range and modalities, and Search. Choosing a study lists its series; Retrieve brings the study
(or the selected series) into the user's data folder (``<data>/pacs/<Study Instance UID>/``, one
``SOPInstanceUID.dcm`` per instance; retrieving again replaces them) with a progress bar and
Cancel; the films that arrived are listed under their patient's name, DX and CR first, then by
series and image number, and Open shows the chosen one in the main window (the browser steps aside
once the film is shown, and stays when the user keeps the unsaved work of the window). Echo checks
the node.

The keyboard runs it all: the cursor starts in the patient name, Enter searches from any field,
Enter on a study or a series retrieves it, Enter on a film opens it; dates are typed as
YYYY-MM-DD (or picked in a calendar), and a text that is not a date is refused, never ignored.

Recent searches are kept in the window's settings (they name patients, like the recent files
do), run again from a list, and "Clear recent searches" at its end forgets them at once.

Every network operation runs on a worker thread (:mod:`.pacs_worker`): the window stays usable,
Cancel reaches the retrieve through its cancel check, and a failure is one sentence in the status
line (the PACS errors are written for the user), never a traceback. A search that waits on a
silent PACS does not hold the form: searching again, or choosing another node, leaves it behind.

Integration: ``install_pacs(window)`` adds "Find on PACS…", "Send to PACS…" and "PACS nodes…" to the
File menu and returns the :class:`PacsController`; installing twice returns the same controller.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QDate,
    QEvent,
    QObject,
    QPoint,
    QRegularExpression,
    QSettings,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QIcon,
    QKeySequence,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QRegularExpressionValidator,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCalendarWidget,
    QComboBox,
    QDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .pacs_nodes_dialog import ERROR_STYLE, OK_STYLE, PacsNodesDialog, echo_text
from .pacs_worker import PacsRunner, PacsTask

log = logging.getLogger(__name__)

__all__ = [
    "PacsBrowser",
    "PacsController",
    "RetrievedFilms",
    "SearchFields",
    "OptionalDateEdit",
    "install_pacs",
    "person_name",
    "retrieve_dir",
]

RECENT_KEY = "pacs/recent_searches"
LAST_NODE_KEY = "pacs/last_node"
MAX_RECENT = 12
MAX_STUDIES = 1000  # more than this is not a search but a listing of the PACS
FILM_MODALITIES = ("DX", "CR")  # what a long-leg film is; preferred when a study holds other images
NO_DATE = QDate(1900, 1, 1)  # the "any" value of the date fields
NO_NODE_TEXT = "No PACS node is set up yet: add one with the Nodes… button."
CLEAR_RECENT = "clear"  # the data of the recent list's last entry
STUDY_COLUMNS = ("Patient", "Patient ID", "Date", "Accession", "Description", "Modalities", "Series", "Instances")
SERIES_COLUMNS = ("No.", "Modality", "Description", "Instances")


# --- plain helpers ---------------------------------------------------------------------------------------


_CJK_RANGES = ((0x1100, 0x11FF), (0x3040, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF),
               (0xF900, 0xFAFF), (0xFF66, 0xFF9F), (0x20000, 0x2FFFF))


def _is_cjk(text: str) -> bool:
    """Text in Chinese characters, kana or hangul."""
    return any(lo <= ord(c) <= hi for c in text if ord(c) > 0x10FF for lo, hi in _CJK_RANGES)


def _name_group(group: str) -> str:
    parts = [p.strip() for p in group.split("^")] + [""] * 5
    family, given, middle, prefix, suffix = parts[:5]
    if _is_cjk(group):
        # Japanese, Chinese and Korean names are written family name first, without a comma
        return " ".join(p for p in (prefix, family, given, middle, suffix) if p)
    rest = " ".join(p for p in (prefix, given, middle) if p)
    text = f"{family}, {rest}" if family and rest else family or rest
    return f"{text}, {suffix}" if suffix else text


def person_name(raw: str | None) -> str:
    """A DICOM person name for reading.

    ``"SMITH^John^A"`` -> ``"SMITH, John A"``; the other representations of the name follow in
    brackets, as Japanese and Korean PACS store them: ``"山田^太郎=ヤマダ^タロウ"`` ->
    ``"山田 太郎 (ヤマダ タロウ)"``, ``"Yamada^Tarou=山田^太郎"`` -> ``"Yamada, Tarou (山田 太郎)"``.
    """
    if not raw:
        return ""
    shown: list[str] = []
    for group in str(raw).split("="):
        text = _name_group(group)
        if text and text not in shown:
            shown.append(text)
    if not shown:
        return ""
    return shown[0] + (f" ({' / '.join(shown[1:])})" if len(shown) > 1 else "")


def _date_text(value: str | None) -> str:
    if value and len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value or ""


def retrieve_dir(study_uid: str) -> Path:
    """Where a study's instances are retrieved: ``<user data>/pacs/<Study Instance UID>``.

    Named by the UID, never by the patient: the folder name may show up in logs and file dialogs.
    """
    from dicom_io.pacs import check_uid

    from ..paths import user_dir

    return user_dir("data") / "pacs" / check_uid(study_uid, "Study Instance UID")


@dataclass(frozen=True, slots=True)
class SearchFields:
    """What the search form holds, as text; dates ``YYYYMMDD`` or empty."""

    node: str = ""
    patient_name: str = ""
    patient_id: str = ""
    accession: str = ""
    date_from: str = ""
    date_to: str = ""
    modality: str = ""

    def is_empty(self) -> bool:
        return not any((self.patient_name, self.patient_id, self.accession, self.date_from, self.date_to,
                        self.modality))

    def query(self, limit: int | None = None) -> Any:
        """The :class:`dicom_io.pacs.StudyQuery`; raises ValueError with a sentence for a bad field."""
        from dicom_io.pacs import StudyQuery, check_date_range

        from ..pacs_cli import parse_modalities

        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("The 'from' date is after the 'to' date.")
        date = ""
        if self.date_from or self.date_to:
            date = self.date_from if self.date_from == self.date_to else f"{self.date_from}-{self.date_to}"
            date = check_date_range(date)
        try:
            modalities = parse_modalities(self.modality)
        except ValueError:
            raise ValueError(f"The modality {self.modality!r} is not a list of codes such as CR,DX.") from None
        return StudyQuery(patient_name=self.patient_name, patient_id=self.patient_id, accession=self.accession,
                          date=date, modalities=modalities, limit=limit)

    def label(self) -> str:
        """One line for the recent searches list."""
        parts = []
        if self.patient_name:
            parts.append(self.patient_name)
        if self.patient_id:
            parts.append(f"ID {self.patient_id}")
        if self.accession:
            parts.append(f"accession {self.accession}")
        if self.date_from or self.date_to:
            if self.date_from == self.date_to:
                parts.append(_date_text(self.date_from))
            else:
                parts.append(f"{_date_text(self.date_from) or '…'} to {_date_text(self.date_to) or '…'}")
        if self.modality:
            parts.append(self.modality)
        return f"{' · '.join(parts) or 'all studies'} — on {self.node}"

    def to_json(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self.__slots__}

    @classmethod
    def from_json(cls, data: Any) -> SearchFields | None:
        if not isinstance(data, dict):
            return None
        return cls(**{k: str(data.get(k) or "") for k in cls.__slots__})


@dataclass
class RetrievedFilms:
    """What a retrieve of the browser brought: the transfer and the films (images) among the files."""

    study_uid: str
    folder: Path
    received: int = 0
    failed: int = 0
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cancelled: bool = False
    method: str = ""
    films: list[Any] = field(default_factory=list)  # dicom_io FilmSummary, DX/CR first
    numbers: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)  # by path: series, image

    @property
    def complete(self) -> bool:
        return self.failed == 0 and not self.cancelled and not self.problems


def image_numbers(path: Path) -> tuple[int | None, int | None]:
    """(Series Number, Instance Number) of a DICOM file, None where absent or unreadable."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SeriesNumber", "InstanceNumber"])
    except Exception:  # noqa: BLE001 - a file pydicom cannot read simply has no numbers
        return None, None

    def number(keyword: str) -> int | None:
        try:
            value = ds.get(keyword)
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    return number("SeriesNumber"), number("InstanceNumber")


def films_among(files: Sequence[Path], numbers: dict[str, tuple[int | None, int | None]] | None = None) -> list[Any]:
    """The images among retrieved files (headers only): DX and CR first, then by series and image number.

    `numbers`, when given, is filled with each film's (series number, instance number) by path."""
    from dicom_io.errors import FilmError
    from dicom_io.film import read_header

    films = []
    found: dict[str, tuple[int | None, int | None]] = {}
    for path in dict.fromkeys(files):  # a file received twice is listed once
        try:
            summary = read_header(path)
        except FilmError:
            continue
        if summary.has_pixels:
            films.append(summary)
            found[str(summary.path)] = image_numbers(summary.path)
    if numbers is not None:
        numbers.update(found)
    big = 1 << 30

    def order(film: Any) -> tuple:
        series, instance = found[str(film.path)]
        preferred = 0 if (film.metadata.modality or "").upper() in FILM_MODALITIES else 1
        return (preferred, series if series is not None else big, instance if instance is not None else big)

    return sorted(films, key=order)


def _retrieve(node: Any, study_uid: str, series_uids: Sequence[str | None], folder: Path, progress, cancelled
              ) -> RetrievedFilms:
    """Retrieve the study, or each series in turn, into `folder` (runs on a worker thread)."""
    from dicom_io.pacs import PacsError, Progress, open_client

    client = open_client(node)
    out = RetrievedFilms(study_uid, folder)
    errors: list[str] = []
    for n, series_uid in enumerate(series_uids):
        if cancelled():
            out.cancelled = True
            break
        prefix = f"series {n + 1} of {len(series_uids)}: " if len(series_uids) > 1 else ""

        def step(p: Progress, prefix: str = prefix) -> None:
            progress(Progress(p.done, p.total, p.failed, prefix + p.message))

        try:
            result = client.retrieve(study_uid, folder, series_uid=series_uid, progress=step, cancel=cancelled)
        except PacsError as exc:
            if len(series_uids) == 1:
                raise
            errors.append(str(exc))
            continue
        out.method = result.method
        out.received += result.received
        out.failed += result.failed
        out.files.extend(result.files)
        out.problems.extend(result.problems)
        if result.cancelled:
            out.cancelled = True
            break
    if errors and not out.files:
        raise PacsError(errors[0])
    out.problems.extend(errors)
    out.films = films_among(out.files, out.numbers)
    return out


def _number_item(value: int | None) -> QTableWidgetItem:
    item = QTableWidgetItem()
    if value is not None:
        item.setData(Qt.DisplayRole, int(value))
    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
    return item


def _table(columns: Sequence[str], stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    table.setTextElideMode(Qt.ElideRight)
    header = table.horizontalHeader()
    # Widths are fitted to the contents once per filling (_fit_columns), with a cap, so that one
    # very long name cannot push the other columns out of sight; the user may still drag them.
    header.setSectionResizeMode(QHeaderView.Interactive)
    header.setSectionResizeMode(stretch, QHeaderView.Stretch)
    header.setHighlightSections(False)
    return table


def _fit_columns(table: QTableWidget, cap_chars: int = 28) -> None:
    """Each column as wide as its contents, but at most about `cap_chars` characters (the text is
    then elided, and its cell's tooltip holds all of it)."""
    header = table.horizontalHeader()
    cap = table.fontMetrics().horizontalAdvance("M") * cap_chars
    for col in range(table.columnCount()):
        if header.sectionResizeMode(col) == QHeaderView.Stretch:
            continue
        table.resizeColumnToContents(col)
        if table.columnWidth(col) > cap:
            table.setColumnWidth(col, cap)


DATE_FORMATS = ("yyyy-MM-dd", "yyyyMMdd", "yyyy-M-d")  # what may be typed; shown as the first


def _calendar_icon(colour: QColor) -> QIcon:
    """A small calendar drawn in the text colour (no icon theme is needed)."""
    pixmap = QPixmap(16, 16)
    pixmap.fill(Qt.transparent)
    painter = QPainter(pixmap)
    painter.setPen(QPen(colour, 1))
    painter.drawRect(1, 3, 13, 11)
    painter.fillRect(1, 3, 14, 3, colour)
    for x in (4, 7, 10):
        for y in (8, 11):
            painter.fillRect(x, y, 2, 2, colour)
    painter.end()
    return QIcon(pixmap)


class OptionalDateEdit(QLineEdit):
    """A study date that may be empty ("any"), typed as YYYY-MM-DD (or YYYYMMDD) or picked in a calendar.

    Up and Down step a day (from "any": today), Page Up and Page Down a month; Alt+Down (or the
    calendar button) opens the calendar. A text that is not a date is shown in red and refused by
    the search with a sentence, never taken for "any".
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("any")
        self.setMaxLength(10)
        self.setValidator(QRegularExpressionValidator(QRegularExpression(r"[0-9-]{0,10}"), self))
        self.setFixedWidth(self.fontMetrics().horizontalAdvance("0000-00-00") + 44)
        self.calendar_action = self.addAction(_calendar_icon(self.palette().color(QPalette.Text)),
                                              QLineEdit.TrailingPosition)
        self.calendar_action.setToolTip("Choose the date in a calendar (Alt+Down)")
        self.calendar_action.triggered.connect(self.show_calendar)
        self.calendar: QCalendarWidget | None = None
        self.editingFinished.connect(self._tidy)
        self.textChanged.connect(self._mark)

    # --- value ---
    def date(self) -> QDate:
        """The date typed: NO_DATE when empty ("any"), an invalid QDate when the text is not a date."""
        text = self.text().strip()
        if not text:
            return QDate(NO_DATE)
        for fmt in DATE_FORMATS:
            date = QDate.fromString(text, fmt)
            if date.isValid() and date > NO_DATE:
                return date
        return QDate()

    def setDate(self, date: QDate) -> None:  # noqa: N802 - the name QDateEdit uses
        if date is None or not date.isValid() or date <= NO_DATE:
            self.clear()
        else:
            self.setText(date.toString(DATE_FORMATS[0]))

    def is_any(self) -> bool:
        return not self.text().strip()

    def is_valid(self) -> bool:
        return self.is_any() or self.date().isValid()

    def _tidy(self) -> None:
        date = self.date()
        if not self.is_any() and date.isValid():
            self.setText(date.toString(DATE_FORMATS[0]))  # 20240305 -> 2024-03-05

    def _mark(self) -> None:
        complete = len(self.text().strip()) >= 8
        self.setStyleSheet(ERROR_STYLE if complete and not self.is_valid() else "")

    # --- keys and calendar ---
    def step(self, days: int = 0, months: int = 0) -> None:
        date = self.date()
        if not date.isValid() or date <= NO_DATE:
            self.setDate(QDate.currentDate())  # from "any" (or a typo): today, not 1900
        else:
            self.setDate(date.addDays(days).addMonths(months))

    def keyPressEvent(self, event) -> None:  # noqa: N802
        key, mods = event.key(), event.modifiers()
        if key == Qt.Key_Down and mods & Qt.AltModifier or key == Qt.Key_F4:
            self.show_calendar()
        elif key in (Qt.Key_Up, Qt.Key_Down):
            self.step(days=1 if key == Qt.Key_Up else -1)
        elif key in (Qt.Key_PageUp, Qt.Key_PageDown):
            self.step(months=1 if key == Qt.Key_PageUp else -1)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def show_calendar(self) -> QCalendarWidget:
        """Open the calendar under the field at the date typed (today when none)."""
        if self.calendar is None:
            self.calendar = QCalendarWidget(self)
            self.calendar.setWindowFlags(Qt.Popup)
            self.calendar.setGridVisible(True)
            self.calendar.clicked.connect(self._picked)
            self.calendar.activated.connect(self._picked)
        date = self.date()
        self.calendar.setSelectedDate(date if date.isValid() and date > NO_DATE else QDate.currentDate())
        self.calendar.adjustSize()
        self.calendar.move(self.mapToGlobal(QPoint(0, self.height())))
        self.calendar.show()
        self.calendar.setFocus()
        return self.calendar

    def _picked(self, date: QDate) -> None:
        self.setDate(date)
        if self.calendar is not None:
            self.calendar.hide()
        self.setFocus()


# --- the browser -------------------------------------------------------------------------------------------


class PacsBrowser(QDialog):
    """Search, series, retrieve and open; see the module's docstring."""

    studiesShown = Signal()  # a search finished (with studies or not, or with an error)
    seriesShown = Signal()
    retrieveFinished = Signal(object)  # RetrievedFilms, or None after an error
    echoFinished = Signal(str)  # the sentence shown

    def __init__(self, controller: PacsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.runner = controller.runner
        self.setWindowTitle("Find on PACS")
        self.setWindowFlag(Qt.WindowMaximizeButtonHint, True)
        self.nodes: dict[str, Any] = {}
        self.studies: dict[str, Any] = {}  # by Study Instance UID, as the PACS described them
        self.studies_node: Any = None  # the node that listed them (series and retrieves ask it)
        self.series: list[Any] = []
        self.series_study_uid: str | None = None
        self.last_result: RetrievedFilms | None = None
        self.retrieve_task: PacsTask | None = None
        self._search_generation = 0
        self._searching: int | None = None  # the generation of the search waiting for its answer
        self._searching_label = ""
        self._series_generation = 0
        self._echo_generation = 0

        # node row
        self.node_combo = QComboBox()
        self.node_combo.setMinimumContentsLength(28)
        self.node_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.node_combo.currentIndexChanged.connect(self._on_node)
        self.echo_button = QPushButton("&Echo")
        self.echo_button.setAutoDefault(False)
        self.echo_button.setToolTip("Check that the PACS answers")
        self.echo_button.clicked.connect(self.echo)
        self.nodes_button = QPushButton("No&des…")  # N is the patient name's
        self.nodes_button.setAutoDefault(False)
        self.nodes_button.setToolTip("Add, edit or delete PACS nodes")
        self.nodes_button.clicked.connect(controller.show_nodes)
        self.recent_combo = QComboBox()
        self.recent_combo.setMinimumContentsLength(30)
        self.recent_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.recent_combo.setToolTip("Run a recent search again")
        self.recent_combo.activated.connect(self._on_recent)
        node_label, recent_label = QLabel("&PACS"), QLabel("Recen&t")
        node_label.setBuddy(self.node_combo)
        recent_label.setBuddy(self.recent_combo)
        node_row = QHBoxLayout()
        node_row.addWidget(node_label)
        node_row.addWidget(self.node_combo, 1)
        node_row.addWidget(self.echo_button)
        node_row.addWidget(self.nodes_button)
        node_row.addSpacing(24)
        node_row.addWidget(recent_label)
        node_row.addWidget(self.recent_combo, 1)

        # search form
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. SMITH* (wildcards * and ?)")
        self.id_edit = QLineEdit()
        self.accession_edit = QLineEdit()
        self.date_from = self._date_edit("Study date from, YYYY-MM-DD (empty: no limit)")
        self.date_to = self._date_edit("Study date to, YYYY-MM-DD (empty: no limit)")
        self.modality_combo = QComboBox()
        self.modality_combo.setEditable(True)
        self.modality_combo.addItems(["", "CR,DX", "DX", "CR"])
        self.modality_combo.lineEdit().setPlaceholderText("any, or e.g. CR,DX")
        self.search_button = QPushButton("&Search")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        self.clear_button = QPushButton("C&lear")
        self.clear_button.setAutoDefault(False)
        self.clear_button.clicked.connect(self.clear_fields)
        form = QGridLayout()
        form.addWidget(QLabel("Patient &name"), 0, 0)
        form.addWidget(self.name_edit, 0, 1)
        form.addWidget(QLabel("Patient &ID"), 0, 2)
        form.addWidget(self.id_edit, 0, 3)
        form.addWidget(QLabel("&Accession"), 0, 4)
        form.addWidget(self.accession_edit, 0, 5)
        form.addWidget(QLabel("Study date &from"), 1, 0)
        dates = QHBoxLayout()
        dates.addWidget(self.date_from)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.date_to)
        dates.addStretch(1)
        form.addLayout(dates, 1, 1)
        form.addWidget(QLabel("&Modality"), 1, 2)
        form.addWidget(self.modality_combo, 1, 3)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.search_button)
        form.addLayout(buttons, 1, 4, 1, 2)
        for label, edit in ((0, self.name_edit), (2, self.id_edit), (4, self.accession_edit)):
            buddy = form.itemAtPosition(0, label).widget()
            buddy.setBuddy(edit)
        form.itemAtPosition(1, 0).widget().setBuddy(self.date_from)
        form.itemAtPosition(1, 2).widget().setBuddy(self.modality_combo)
        form.setColumnStretch(1, 3)
        form.setColumnStretch(3, 2)
        form.setColumnStretch(5, 2)

        # studies
        self.studies_table = _table(STUDY_COLUMNS, STUDY_COLUMNS.index("Description"))
        self.studies_table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.studies_table.setSortingEnabled(True)
        self.studies_table.itemSelectionChanged.connect(self._on_study_selected)
        self.studies_table.itemDoubleClicked.connect(lambda _item: self.retrieve())
        studies_box = QGroupBox("Studies")
        QVBoxLayout(studies_box).addWidget(self.studies_table)

        # series and retrieve
        self.series_table = _table(SERIES_COLUMNS, SERIES_COLUMNS.index("Description"))
        self.series_table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.series_table.itemSelectionChanged.connect(self._update_buttons)
        self.series_table.itemDoubleClicked.connect(lambda _item: self.retrieve())
        self.retrieve_button = QPushButton("&Retrieve study")
        self.retrieve_button.setAutoDefault(False)
        self.retrieve_button.clicked.connect(self.retrieve)
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.cancel_retrieve)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("")
        series_box = QGroupBox("Series of the selected study (select some to retrieve only those)")
        series_layout = QVBoxLayout(series_box)
        series_layout.addWidget(self.series_table)
        retrieve_row = QHBoxLayout()
        retrieve_row.addWidget(self.progress_bar, 1)
        retrieve_row.addWidget(self.retrieve_button)
        retrieve_row.addWidget(self.cancel_button)
        series_layout.addLayout(retrieve_row)

        self.films_list = QListWidget()
        self.films_list.setAlternatingRowColors(True)
        self.films_list.setWordWrap(True)
        self.films_list.itemSelectionChanged.connect(self._update_buttons)
        self.films_list.itemDoubleClicked.connect(lambda _item: self.open_selected())
        self.open_button = QPushButton("&Open")
        self.open_button.setAutoDefault(False)
        self.open_button.setToolTip("Open the chosen film in the main window")
        self.open_button.clicked.connect(self.open_selected)
        self.films_box = films_box = QGroupBox("Retrieved films")
        films_layout = QVBoxLayout(films_box)
        films_layout.addWidget(self.films_list)
        open_row = QHBoxLayout()
        open_row.addStretch(1)
        open_row.addWidget(self.open_button)
        films_layout.addLayout(open_row)

        lower = QSplitter(Qt.Horizontal)
        lower.addWidget(series_box)
        lower.addWidget(films_box)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 2)
        split = QSplitter(Qt.Vertical)
        split.addWidget(studies_box)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.status_label.setMinimumHeight(self.status_label.fontMetrics().height() * 2 + 4)
        self.status_label.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.close_button = QPushButton("Close")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.close)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status_label, 1)
        status_row.addWidget(self.close_button, 0, Qt.AlignTop)

        layout = QVBoxLayout(self)
        layout.addLayout(node_row)
        layout.addLayout(form)
        layout.addWidget(split, 1)
        layout.addLayout(status_row)
        self.resize(1180, 760)

        # Tab follows the form as it reads (Search before Clear), then the tables and their buttons.
        chain = [self.node_combo, self.echo_button, self.nodes_button, self.recent_combo, self.name_edit,
                 self.id_edit, self.accession_edit, self.date_from, self.date_to, self.modality_combo,
                 self.search_button, self.clear_button, self.studies_table, self.series_table, self.retrieve_button,
                 self.cancel_button, self.films_list, self.open_button, self.close_button]
        for before, after in pairwise(chain):
            QWidget.setTabOrder(before, after)
        # Enter on a study or series retrieves it, on a film opens it (not the dialog's default
        # button, Search, which would run the search again and lose the selection).
        for widget in (self.studies_table, self.series_table, self.films_list):
            widget.installEventFilter(self)
        self._opening: Path | None = None  # the film asked for with Open, until the window shows it
        loaded = getattr(controller.window, "filmLoaded", None)
        if loaded is not None:
            loaded.connect(self._on_film_loaded)
        failed = getattr(controller.window, "filmFailed", None)
        if failed is not None:
            failed.connect(self._on_film_failed)
        self.refresh_nodes()
        self._refresh_recent()
        self._update_buttons()
        self.name_edit.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.KeyPress and event.key() in (Qt.Key_Return, Qt.Key_Enter) \
                and not event.modifiers() & ~Qt.KeypadModifier:
            if watched is self.films_list:
                self.open_selected()
                return True
            if watched in (self.studies_table, self.series_table):
                self.retrieve()
                return True
        return super().eventFilter(watched, event)

    @staticmethod
    def _date_edit(tip: str) -> OptionalDateEdit:
        edit = OptionalDateEdit()
        edit.setToolTip(tip + "; Up and Down step a day, Alt+Down opens a calendar")
        return edit

    # --- settings ------------------------------------------------------------------------------------
    @property
    def settings(self) -> QSettings:
        settings = getattr(self.controller.window, "settings", None)
        return settings if isinstance(settings, QSettings) else QSettings()

    # --- nodes ---------------------------------------------------------------------------------------
    def refresh_nodes(self) -> None:
        """Read the user's nodes again (after the node editor saved), keeping the chosen one."""
        from dicom_io.pacs import NodeSettingsError

        from ..pacs_cli import load_user_nodes

        current = self.node_combo.currentData() or str(self.settings.value(LAST_NODE_KEY, "") or "")
        try:
            self.nodes = dict(load_user_nodes())
            problem = ""
        except (NodeSettingsError, OSError) as exc:
            self.nodes = {}
            problem = str(exc)
        self.node_combo.blockSignals(True)
        self.node_combo.clear()
        for name, node in self.nodes.items():
            where = f"{node.called_aet}@{node.host}:{node.port}" if node.kind == "dimse" else node.url
            self.node_combo.addItem(f"{name}  ({where})", name)
        index = self.node_combo.findData(current)
        self.node_combo.setCurrentIndex(max(index, 0))
        self.node_combo.blockSignals(False)
        if problem:
            self._status(problem, error=True)
        elif not self.nodes:
            self._status(NO_NODE_TEXT)
        elif self.status_text() == NO_NODE_TEXT:
            self._status("Choose a node, fill the fields and press Enter to search.")
        self._update_buttons()

    def current_node(self) -> Any | None:
        name = self.node_combo.currentData()
        return self.nodes.get(name) if name else None

    def _on_node(self, _index: int) -> None:
        name = self.node_combo.currentData()
        if name:
            self.settings.setValue(LAST_NODE_KEY, name)
        self._echo_generation += 1  # an echo of the node left behind would answer under the new one
        if self._searching is not None:
            # and its search would fill the table after the user moved on
            self._search_generation += 1
            self._searching = None
            self._status(f"Stopped waiting for {self._searching_label}: search again on the node chosen.")
        self._update_buttons()

    def _node_or_say(self) -> Any | None:
        node = self.current_node()
        if node is None:
            self._status("Choose a PACS node first (add one with Nodes…).", error=True)
        return node

    def echo(self) -> None:
        from dicom_io.pacs import open_client

        node = self._node_or_say()
        if node is None:
            return
        self._echo_generation += 1
        generation = self._echo_generation
        self._status(f"Asking {node.label}…")

        def done(seconds: Any, error: str, _cancelled: bool) -> None:
            if generation != self._echo_generation:
                return
            text = error or echo_text(node, seconds)
            self._status(text, error=bool(error), ok=not error)
            self.echoFinished.emit(text)

        self.runner.start(lambda _p, _c: open_client(node).echo(), done, what="echo")

    # --- search --------------------------------------------------------------------------------------
    def fields(self) -> SearchFields:
        """The form's fields; raises ValueError (a sentence) for a date that is not a date."""
        def day(edit: OptionalDateEdit, which: str) -> str:
            if edit.is_any():
                return ""
            date = edit.date()
            if not date.isValid():
                raise ValueError(f"The study date '{which}' ({edit.text().strip()}) is not a date: type it as "
                                 "YYYY-MM-DD, or leave the field empty for any date.")
            return date.toString("yyyyMMdd")

        return SearchFields(node=str(self.node_combo.currentData() or ""), patient_name=self.name_edit.text().strip(),
                            patient_id=self.id_edit.text().strip(), accession=self.accession_edit.text().strip(),
                            date_from=day(self.date_from, "from"), date_to=day(self.date_to, "to"),
                            modality=self.modality_combo.currentText().strip().upper())

    def set_fields(self, fields: SearchFields) -> None:
        if fields.node:
            index = self.node_combo.findData(fields.node)
            if index >= 0:
                self.node_combo.setCurrentIndex(index)
        self.name_edit.setText(fields.patient_name)
        self.id_edit.setText(fields.patient_id)
        self.accession_edit.setText(fields.accession)
        for edit, value in ((self.date_from, fields.date_from), (self.date_to, fields.date_to)):
            date = QDate.fromString(value, "yyyyMMdd") if value else NO_DATE
            edit.setDate(date if date.isValid() else NO_DATE)
        self.modality_combo.setEditText(fields.modality)

    def clear_fields(self) -> None:
        node = self.node_combo.currentData() or ""
        self.set_fields(SearchFields(node=node))
        self.name_edit.setFocus()

    def search(self) -> None:
        """Study-level search with the form's fields, on a worker thread.

        Search stays usable while a search waits: a PACS that does not answer holds its search for
        the node's whole timeout, and the user may correct a field, or choose another node, and
        search again at once; only the latest search fills the table."""
        from dicom_io.pacs import open_client

        node = self._node_or_say()
        if node is None:
            return
        try:
            fields = self.fields()
        except ValueError as exc:
            self._status(str(exc), error=True)
            return
        if fields.is_empty():
            self._status("Fill at least one field (a name, an ID, an accession number, a date or a modality); "
                         "a patient name of * lists every study.", error=True)
            return
        try:
            query = fields.query(limit=MAX_STUDIES + 1)
        except ValueError as exc:
            self._status(str(exc), error=True)
            return
        self._search_generation += 1
        generation = self._search_generation
        self._searching, self._searching_label = generation, node.label
        self._status(f"Searching {node.label}…")
        self._show_studies([])

        def done(studies: Any, error: str, _cancelled: bool) -> None:
            if generation != self._search_generation:
                return
            self._searching = None
            if error:
                self._status(error, error=True)
            else:
                self._remember(fields)
                shown = studies[:MAX_STUDIES]
                self._show_studies(shown)
                self.studies_node = node
                if not studies:
                    self._status(_no_match_text(node.label, fields))
                elif len(studies) > MAX_STUDIES:
                    self._status(f"More than {MAX_STUDIES} studies match on {node.label}: the {MAX_STUDIES} most "
                                 "recent are shown. Narrow the search.")
                else:
                    self._status(f"{len(studies)} {'study' if len(studies) == 1 else 'studies'} found on "
                                 f"{node.label}. Choose one to see its series.")
            self.studiesShown.emit()

        self.runner.start(lambda _p, _c: open_client(node).find_studies(query), done, what="search")

    def _show_studies(self, studies: Sequence[Any]) -> None:
        table = self.studies_table
        table.setSortingEnabled(False)
        table.clearSelection()
        table.setRowCount(0)
        self.studies = {s.study_uid: s for s in studies}
        self._show_series(None, [])
        table.setRowCount(len(studies))
        for row, s in enumerate(studies):
            texts = (person_name(s.patient_name), s.patient_id or "", _date_text(s.study_date), s.accession or "",
                     s.description or "", ",".join(s.modalities))
            for col, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setData(Qt.UserRole, s.study_uid)
                    item.setToolTip(f"{text}\nStudy Instance UID {s.study_uid}" if text
                                    else f"Study Instance UID {s.study_uid}")
                elif text:
                    item.setToolTip(text)  # the whole text where the column elides it
                table.setItem(row, col, item)
            table.setItem(row, 6, _number_item(s.series))
            table.setItem(row, 7, _number_item(s.instances))
        table.setSortingEnabled(True)
        table.sortItems(STUDY_COLUMNS.index("Date"), Qt.DescendingOrder)
        _fit_columns(table)
        self._update_buttons()

    def selected_study(self) -> Any | None:
        rows = self.studies_table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.studies_table.item(rows[0].row(), 0)
        return self.studies.get(item.data(Qt.UserRole)) if item is not None else None

    def select_study(self, study_uid: str) -> bool:
        """Select the row of a study (as a click would); False when it is not listed."""
        for row in range(self.studies_table.rowCount()):
            if self.studies_table.item(row, 0).data(Qt.UserRole) == study_uid:
                self.studies_table.selectRow(row)
                return True
        return False

    # --- recent searches -----------------------------------------------------------------------------
    def recent_searches(self) -> list[SearchFields]:
        raw = self.settings.value(RECENT_KEY, "")
        try:
            data = json.loads(raw) if isinstance(raw, str) and raw else []
        except json.JSONDecodeError:
            data = []
        found = [SearchFields.from_json(d) for d in data] if isinstance(data, list) else []
        return [f for f in found if f is not None]

    def _remember(self, fields: SearchFields) -> None:
        items = [fields] + [f for f in self.recent_searches() if f != fields]
        self.settings.setValue(RECENT_KEY, json.dumps([f.to_json() for f in items[:MAX_RECENT]]))
        self._refresh_recent()

    def clear_recent(self) -> None:
        """Forget the recent searches (they name patients) in the settings file."""
        self.settings.remove(RECENT_KEY)
        self.settings.sync()
        self._refresh_recent()
        self._status("Recent searches cleared.")

    def _refresh_recent(self) -> None:
        self.recent_combo.blockSignals(True)
        self.recent_combo.clear()
        recent = self.recent_searches()
        self.recent_combo.addItem("Recent searches…" if recent else "No recent search", None)
        for fields in recent:
            self.recent_combo.addItem(fields.label(), fields.to_json())
        if recent:
            self.recent_combo.insertSeparator(self.recent_combo.count())
            self.recent_combo.addItem("Clear recent searches", CLEAR_RECENT)
            self.recent_combo.setItemData(self.recent_combo.count() - 1,
                                          "Forget these searches (they name patients) on this computer", Qt.ToolTipRole)
        self.recent_combo.setCurrentIndex(0)
        self.recent_combo.setEnabled(bool(recent))
        self.recent_combo.blockSignals(False)

    def _on_recent(self, index: int) -> None:
        data = self.recent_combo.itemData(index)
        if data == CLEAR_RECENT:
            self.clear_recent()
            return
        fields = SearchFields.from_json(data) if data else None
        if fields is None:
            return
        if fields.node and self.node_combo.findData(fields.node) < 0:
            self._status(f"The node {fields.node!r} of that search no longer exists.", error=True)
            return
        self.set_fields(fields)
        self.search()

    # --- series --------------------------------------------------------------------------------------
    def _on_study_selected(self) -> None:
        from dicom_io.pacs import open_client

        study = self.selected_study()
        self._update_buttons()
        if study is None:
            self._show_series(None, [])
            return
        if study.study_uid == self.series_study_uid:
            return
        node = self.studies_node or self.current_node()
        if node is None:
            return
        self._show_series(None, [])
        self._series_generation += 1
        generation = self._series_generation
        self.series_table.setEnabled(False)

        def done(series: Any, error: str, _cancelled: bool) -> None:
            if generation != self._series_generation:
                return
            self.series_table.setEnabled(True)
            if error:
                self._status(error, error=True)
            else:
                self._show_series(study.study_uid, series)
            self.seriesShown.emit()

        self.runner.start(lambda _p, _c: open_client(node).find_series(study.study_uid), done, what="series search")

    def _show_series(self, study_uid: str | None, series: Sequence[Any]) -> None:
        table = self.series_table
        table.clearSelection()
        table.setRowCount(0)
        self.series = list(series)
        self.series_study_uid = study_uid
        table.setRowCount(len(series))
        for row, s in enumerate(series):
            number = _number_item(s.number)
            number.setData(Qt.UserRole, s.series_uid)
            number.setToolTip(f"Series Instance UID {s.series_uid}")
            table.setItem(row, 0, number)
            table.setItem(row, 1, QTableWidgetItem(s.modality or ""))
            description = QTableWidgetItem(s.description or "")
            description.setToolTip(s.description or "")
            table.setItem(row, 2, description)
            table.setItem(row, 3, _number_item(s.instances))
        _fit_columns(table)
        self._update_buttons()

    def selected_series(self) -> list[str]:
        rows = sorted(index.row() for index in self.series_table.selectionModel().selectedRows())
        return [self.series_table.item(r, 0).data(Qt.UserRole) for r in rows]

    # --- retrieve ------------------------------------------------------------------------------------
    def retrieve(self) -> None:
        """Retrieve the selected study, or only its selected series, on a worker thread."""
        study = self.selected_study()
        node = self.studies_node or self._node_or_say()
        if study is None or node is None or self.retrieve_task is not None:
            if study is None and node is not None:
                self._status("Choose a study to retrieve.", error=True)
            return
        series = self.selected_series() if self.series_study_uid == study.study_uid else []
        folder = retrieve_dir(study.study_uid)
        self.films_list.clear()
        self.films_box.setTitle("Retrieved films")
        self.last_result = None
        self.progress_bar.setRange(0, 0)  # busy until the PACS says how many
        self.progress_bar.setFormat("")
        what = f"{len(series)} series" if series else "the study"
        self._status(f"Retrieving {what} from {node.label}…")
        targets: list[str | None] = list(series) or [None]
        self.retrieve_task = self.runner.start(
            lambda progress, cancelled: _retrieve(node, study.study_uid, targets, folder, progress, cancelled),
            self._on_retrieved, progress=self._on_progress, what="retrieve")
        self._update_buttons()

    def cancel_retrieve(self) -> None:
        if self.retrieve_task is not None:
            self.retrieve_task.cancel()
            self.cancel_button.setEnabled(False)
            self._status("Cancelling: the instances received so far are kept…")

    def _on_progress(self, progress: Any) -> None:
        if progress.total:
            self.progress_bar.setRange(0, progress.total)
            self.progress_bar.setValue(min(progress.total, progress.done + progress.failed))
            self.progress_bar.setFormat(f"{progress.done} of {progress.total} instances"
                                        + (f", {progress.failed} failed" if progress.failed else ""))
        else:
            self.progress_bar.setRange(0, 0)
        if progress.message and self.retrieve_task is not None and not self.retrieve_task.cancelled:
            self._status(f"Retrieving: {progress.message}…")

    def _on_retrieved(self, result: Any, error: str, cancelled: bool) -> None:
        self.retrieve_task = None
        self.progress_bar.setRange(0, 1)
        if error:
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("")
            self._status(error, error=True)
            self._update_buttons()
            self.retrieveFinished.emit(None)
            self.controller.retrieve_done(None, error)
            return
        self.last_result = result
        self.progress_bar.setRange(0, max(1, result.received + result.failed))
        self.progress_bar.setValue(result.received)
        self.progress_bar.setFormat(f"{result.received} received" + (f", {result.failed} failed" if result.failed
                                                                     else ""))
        self.films_list.clear()
        self.films_box.setTitle(_films_title(result, self.studies.get(result.study_uid)))
        for film in result.films:
            item = QListWidgetItem(_film_line(film, result.numbers.get(str(film.path), (None, None))))
            item.setData(Qt.UserRole, str(film.path))
            item.setToolTip(str(film.path))
            self.films_list.addItem(item)
        if result.films:
            self.films_list.setCurrentRow(0)
        text = _retrieve_text(result)
        self._status(text, error=bool(result.problems) and not result.cancelled, ok=result.complete)
        self._update_buttons()
        self.retrieveFinished.emit(result)
        self.controller.retrieve_done(result, text)

    # --- open ----------------------------------------------------------------------------------------
    def open_selected(self) -> Path | None:
        """Open the chosen retrieved film in the main window; the browser steps aside once it shows.

        The window may first ask about unsaved work: when the user cancels there, or the film
        cannot be opened, the browser stays where it is."""
        item = self.films_list.currentItem()
        if item is None or self.retrieve_task is not None:
            return None
        path = Path(item.data(Qt.UserRole))
        if not path.exists():
            self._status(f"{path} is no longer there; retrieve the study again.", error=True)
            return None
        window = self.controller.window
        if getattr(window, "filmLoaded", None) is None:
            window.open_path(path)
            self.hide()
            return path
        self._opening = path
        self._status(f"Opening {path.name} in the main window…")
        window.open_path(path)
        return path

    def _on_film_failed(self, error: str = "") -> None:
        if self._opening is not None:
            name, self._opening = self._opening.name, None
            self._status(f"{name} could not be opened" + (f": {error}" if error else "."), error=True)

    def _on_film_loaded(self) -> None:
        doc = getattr(self.controller.window, "doc", None)
        if self._opening is not None and doc is not None and doc.film_path == self._opening:
            self._opening = None
            self._status("The film is open in the main window.")
            self.hide()

    # --- state ---------------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        has_node = self.current_node() is not None
        running = self.retrieve_task is not None
        study = self.selected_study()
        series = self.selected_series() if study is not None and self.series_study_uid == study.study_uid else []
        self.echo_button.setEnabled(has_node)
        self.retrieve_button.setEnabled(has_node and study is not None and not running)
        self.retrieve_button.setText(f"&Retrieve {len(series)} series" if series else "&Retrieve study")
        self.cancel_button.setEnabled(running and not (self.retrieve_task and self.retrieve_task.cancelled))
        self.open_button.setEnabled(self.films_list.currentItem() is not None and not running)

    def _status(self, text: str, *, error: bool = False, ok: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else OK_STYLE if ok else "")

    def status_text(self) -> str:
        return self.status_label.text()


def _film_line(film: Any, numbers: tuple[int | None, int | None] = (None, None)) -> str:
    """One line per film; the image number tells apart the films of one series."""
    meta = film.metadata
    series, instance = numbers
    parts = [meta.modality or "?", meta.series_description or meta.study_description or "",
             f"series {series}, image {instance}" if series is not None and instance is not None
             else f"image {instance}" if instance is not None else "",
             f"{film.columns} x {film.rows} px", meta.view_position or ""]
    return "  ·  ".join(p for p in parts if p)


def _films_title(result: RetrievedFilms, study: Any) -> str:
    """The films box's title: whose films these are (the study listed may no longer be the one chosen)."""
    if result.films:
        meta = result.films[0].metadata
        name, pid, date = meta.patient_name, meta.patient_id, meta.study_date
    elif study is not None:
        name, pid, date = study.patient_name, study.patient_id, study.study_date
    else:
        return "Retrieved films"
    who = person_name(name) or "no name"
    return f"Retrieved films of {who}" + (f" ({pid})" if pid else "") + (f", {_date_text(date)}" if date else "")


def _no_match_text(node_label: str, fields: SearchFields) -> str:
    """Why a search may have found nothing: an exact name, or limits left in the form."""
    text = f"No study on {node_label} matches."
    name = fields.patient_name
    if name and not any(c in name for c in "*?"):
        text += (f" A name without * must match the whole name as the PACS stores it (FAMILY^Given): "
                 f"try {name}* to find the names that begin with it.")
    limits = []
    if fields.date_from or fields.date_to:
        limits.append(f"study dates {_date_text(fields.date_from) or 'any'} to {_date_text(fields.date_to) or 'any'}")
    if fields.modality:
        limits.append(f"modality {fields.modality}")
    if limits and (name or fields.patient_id or fields.accession):
        text += f" The search was limited to {' and '.join(limits)}: clear those fields to widen it."
    return text


def _retrieve_text(result: RetrievedFilms) -> str:
    n = result.received
    where = str(result.folder)
    if result.cancelled:
        text = f"Retrieve cancelled: the {n} instance(s) received are kept in {where}."
    elif result.complete:
        text = f"Received {n} instance(s) into {where}."
    else:
        detail = " ".join(result.problems) or f"{result.failed} instance(s) did not arrive."
        text = f"Partial retrieve: {n} instance(s) kept in {where}. {detail}"
    if result.films:
        many = len(result.films) > 1
        text += (f" {len(result.films)} films: choose one and click Open." if many else " Click Open to show the film.")
    elif n:
        text += " None of them is an image to measure."
    return text


# --- the controller and its menu entries ---------------------------------------------------------------------


class PacsController(QObject):
    """The PACS entries of the File menu and the windows they open (one of each, reused)."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.runner = PacsRunner(self)
        self.browser: PacsBrowser | None = None
        self.nodes_dialog: PacsNodesDialog | None = None
        self.send_dialog: Any = None  # pacs_send.PacsSendDialog
        self._install_menu()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def _install_menu(self) -> None:
        bar = self.window.menuBar()
        file_menu = next((a.menu() for a in bar.actions() if a.text().replace("&", "") == "File"
                          and isinstance(a.menu(), QMenu)), None)
        if file_menu is None:
            file_menu = bar.addMenu("&File")
        self.file_menu = file_menu
        quit_action = next((a for a in file_menu.actions() if a.text().replace("&", "") == "Quit"), None)
        self.find_action = QAction("Find on &PACS…", self.window)
        self.find_action.setShortcut(QKeySequence("Ctrl+Shift+F"))
        self.find_action.setToolTip("Search a PACS, retrieve a study and open its film")
        self.find_action.triggered.connect(lambda _=False: self.show_browser())
        self.send_action = QAction("Send &to PACS…", self.window)  # D is Export DICOM's
        self.send_action.setToolTip("Send the analysis (SR, presentation state, capture, PDF) to the film's study")
        self.send_action.triggered.connect(lambda _=False: self.send_to_pacs())
        self.nodes_action = QAction("PACS &nodes…", self.window)
        self.nodes_action.triggered.connect(lambda _=False: self.show_nodes())
        actions = [self.find_action, self.send_action, self.nodes_action]
        if quit_action is not None:
            # in a group of their own just above Quit (and its separator)
            listed = file_menu.actions()
            at = listed.index(quit_action)
            anchor = listed[at - 1] if at > 0 and listed[at - 1].isSeparator() else file_menu.insertSeparator(quit_action)
            file_menu.insertActions(anchor, actions)
            file_menu.insertSeparator(self.find_action)
        else:
            file_menu.addSeparator()
            file_menu.addActions(actions)

    # --- windows -------------------------------------------------------------------------------------
    def _present(self, dialog: QDialog) -> None:
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def show_browser(self) -> PacsBrowser:
        if self.browser is None:
            self.browser = PacsBrowser(self, self.window)
        else:
            self.browser.refresh_nodes()
        self._present(self.browser)
        return self.browser

    def show_nodes(self) -> PacsNodesDialog:
        if self.nodes_dialog is None:
            self.nodes_dialog = PacsNodesDialog(self.runner, self.browser if self.browser is not None and
                                                self.browser.isVisible() else self.window)
            self.nodes_dialog.nodesChanged.connect(self._nodes_changed)
        else:
            self.nodes_dialog.reload(select=self.nodes_dialog.editing)
        self._present(self.nodes_dialog)
        return self.nodes_dialog

    def send_to_pacs(self) -> Any:
        """Open the send window for the open film; refuses (politely) when no film is open."""
        doc = self.window.doc
        if doc.radiograph is None or doc.film_path is None:
            self.window.show_error("Open a film first: the results are sent into the film's study on the PACS.")
            return None
        from .pacs_send import PacsSendDialog

        if self.send_dialog is None:
            self.send_dialog = PacsSendDialog(self, self.window)
        self.send_dialog.prepare()
        self._present(self.send_dialog)
        return self.send_dialog

    def _nodes_changed(self) -> None:
        if self.browser is not None:
            self.browser.refresh_nodes()
        if self.send_dialog is not None:
            self.send_dialog.refresh_nodes()

    def retrieve_done(self, result: RetrievedFilms | None, text: str) -> None:
        """Tell the main window when a retrieve ends while the browser is hidden."""
        if self.browser is not None and not self.browser.isVisible():
            self.window.statusBar().showMessage(
                ("Retrieve from the PACS finished: " if result is not None else "Retrieve from the PACS failed: ")
                + text + " (File > Find on PACS… to open it)", 15000)

    def shutdown(self, msecs: int = 5000) -> None:
        """Ask running transfers to stop and wait for them a moment (at quit)."""
        self.runner.cancel_all()
        self.runner.wait(msecs)


def install_pacs(window: Any) -> PacsController:
    """Add the PACS entries to the main window's File menu; returns the controller.

    Installing twice returns the controller already there (the entries appear once)."""
    existing = getattr(window, "pacs", None)
    if isinstance(existing, PacsController):
        return existing
    controller = PacsController(window)
    window.pacs = controller
    return controller
