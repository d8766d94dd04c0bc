"""File > Send to PACS: the analysis of the open film, as DICOM objects, into the film's study.

The objects are those of File > Export DICOM results (``deformity_app.dicom_export.build_objects``:
measurement report SR, presentation state, annotated secondary capture, encapsulated PDF report),
built in memory on a worker thread with the window the user is looking at, and stored on the
chosen node (C-STORE or STOW-RS) by the same worker. The table then says, for each object, whether
the PACS stored it, or why not.

Before anything is sent the dialog says what the analysis holds (landmarks and measurements per
limb), follows the main window (another film, a landmark placed), refuses to send a case without
landmarks, and asks before sending the same analysis to the same PACS a second time (each send
makes new series: a PACS would show the results twice).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .pacs_nodes_dialog import ERROR_STYLE, OK_STYLE
from .pacs_worker import PacsTask, TaskError

log = logging.getLogger(__name__)

__all__ = ["KIND_LABELS", "STATUS_WORDS", "AnalysisSummary", "PacsSendDialog", "SendOutcome", "analysis_summary"]

KIND_LABELS = {
    "sr": "Measurement report (SR)",
    "gsps": "Overlay on the film (presentation state)",
    "sc": "Annotated film (secondary capture)",
    "pdf": "Printed report (encapsulated PDF)",
}
STATUS_WORDS = {"stored": "Stored", "warning": "Stored, with a warning", "refused": "Refused", "failed": "Not sent"}
RESULT_COLUMNS = ("Object", "Status", "Detail")
GOOD = QColor(214, 240, 214)
BAD = QColor(250, 216, 216)


@dataclass(frozen=True, slots=True)
class AnalysisSummary:
    """What the objects of a send would hold: a sentence for the user, and whether to send at all."""

    text: str
    landmarks: int
    measurements: int

    @property
    def sendable(self) -> bool:
        return self.landmarks > 0


def analysis_summary(case: Any, result: Any) -> AnalysisSummary:
    """Landmarks and measurements per limb of `case` (measured as `result`), in a sentence.

    A measurement counts once whether it is in millimetres or, uncalibrated, in pixels."""
    from measurements.landmarks import Side
    from measurements.measure import REQUIREMENTS

    def px(key: str) -> str:
        return key[:-3] + "_px" if key.endswith("_mm") else key

    parts, landmarks, measurements = [], 0, 0
    for side in (Side.RIGHT, Side.LEFT):
        limb = case.limbs.get(side)
        placed = len(limb.landmarks) if limb is not None else 0
        limb_result = result.limbs.get(side) if result is not None else None
        values = limb_result.values if limb_result is not None else {}
        measured = sum(1 for key in REQUIREMENTS if key in values or px(key) in values)
        landmarks += placed
        measurements += measured
        if placed:
            parts.append(f"{side.label.lower()} limb {placed} landmark{'s' if placed != 1 else ''}, "
                         f"{measured} measurement{'s' if measured != 1 else ''}")
        else:
            parts.append(f"{side.label.lower()} limb not analysed")
    if result is not None and (result.lld_mm is not None or result.lld_px is not None):
        measurements += 1
        parts.append("limb-length discrepancy")
    if landmarks == 0:
        return AnalysisSummary("No landmark is placed on this film yet: there is nothing to send. Place the "
                               "landmarks, then send.", 0, 0)
    text = "The analysis: " + "; ".join(parts) + "."
    if measurements == 0:
        text += (" No measurement can be made from these landmarks yet: the objects will hold the landmarks "
                 "only, and say that the alignment was not assessed.")
    return AnalysisSummary(text, landmarks, measurements)


@dataclass
class SendOutcome:
    """What a send did: the objects built, the build's warnings, and the PACS's answer for each."""

    node_label: str
    objects: list[Any] = field(default_factory=list)  # dicom_export.ExportedObject
    warnings: list[str] = field(default_factory=list)
    result: Any = None  # dicom_io.pacs.StoreResult

    @property
    def cancelled(self) -> bool:
        return bool(self.result is not None and self.result.cancelled)

    def outcome_of(self, obj: Any) -> Any | None:
        """The StoreOutcome of one object (matched by its SOP Instance UID)."""
        if self.result is None:
            return None
        return next((o for o in self.result.outcomes if o.sop_instance_uid == obj.sop_instance_uid), None)


def _send(node: Any, case: Any, film_path: Path, case_path: Path | None, radiograph: Any, options: Any,
          progress, cancelled) -> SendOutcome:
    """Build the objects and store them (runs on a worker thread)."""
    from dicom_io.pacs import Progress, StoreOutcome, StoreResult, open_client

    from ..dicom_export import ExportError, build_objects

    progress(Progress(0, None, message="making the objects"))
    try:
        objects, warnings = build_objects(case, film_path, case_path=case_path, radiograph=radiograph, options=options)
    except ExportError as exc:
        raise TaskError(f"The results could not be made: {exc}") from None
    out = SendOutcome(node.label, objects, warnings)
    if cancelled():
        out.result = StoreResult([StoreOutcome(o.sop_instance_uid, "failed", "not sent: cancelled") for o in objects],
                                 cancelled=True)
        return out
    progress(Progress(0, len(objects), message=f"sending {len(objects)} object(s)"))
    out.result = open_client(node).store([o.dataset for o in objects], progress=progress, cancel=cancelled)
    return out


class PacsSendDialog(QDialog):
    """Which objects, which node; Send; one row per object with what the PACS answered."""

    sendFinished = Signal(object)  # SendOutcome, or None after an error

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from ..dicom_export import KINDS, SERIES_DESCRIPTIONS

        self.controller = controller
        self.runner = controller.runner
        self.setWindowTitle("Send to PACS")
        self.nodes: dict[str, Any] = {}
        self.task: PacsTask | None = None
        self.last_outcome: SendOutcome | None = None
        self._prepared_for: Path | None = None
        self.summary: AnalysisSummary | None = None
        self._sent: tuple[Path | None, str, tuple[str, ...], Any] | None = None  # film, node, kinds, case
        self._sending: tuple[Path | None, str, tuple[str, ...], Any] | None = None

        self.film_label = QLabel()
        self.film_label.setWordWrap(True)
        self.film_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.analysis_label = QLabel()
        self.analysis_label.setWordWrap(True)
        self.analysis_label.setTextInteractionFlags(Qt.TextSelectableByMouse)

        objects_box = QGroupBox("Objects to send (each in a new series of the film's study)")
        objects_layout = QVBoxLayout(objects_box)
        self.kind_boxes: dict[str, QCheckBox] = {}
        for kind in KINDS:
            box = QCheckBox(KIND_LABELS[kind])
            box.setChecked(True)
            box.setToolTip(SERIES_DESCRIPTIONS[kind])
            box.toggled.connect(self._update_buttons)
            objects_layout.addWidget(box)
            self.kind_boxes[kind] = box

        self.node_combo = QComboBox()
        self.node_combo.setMinimumContentsLength(28)
        self.node_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.node_combo.currentIndexChanged.connect(self._update_buttons)
        self.nodes_button = QPushButton("&Nodes…")
        self.nodes_button.setAutoDefault(False)
        self.nodes_button.clicked.connect(controller.show_nodes)
        node_row = QHBoxLayout()
        node_row.addWidget(QLabel("PACS"))
        node_row.addWidget(self.node_combo, 1)
        node_row.addWidget(self.nodes_button)

        self.send_button = QPushButton("&Send")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("")
        send_row = QHBoxLayout()
        send_row.addWidget(self.progress_bar, 1)
        send_row.addWidget(self.send_button)
        send_row.addWidget(self.cancel_button)

        self.result_table = QTableWidget(0, len(RESULT_COLUMNS))
        self.result_table.setHorizontalHeaderLabels(list(RESULT_COLUMNS))
        self.result_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.result_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.result_table.verticalHeader().setVisible(False)
        self.result_table.setWordWrap(True)
        header = self.result_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.Stretch)
        header.setHighlightSections(False)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.close_button = QPushButton("Close")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status_label, 1)
        bottom.addWidget(self.close_button, 0, Qt.AlignTop)

        layout = QVBoxLayout(self)
        layout.addWidget(self.film_label)
        layout.addWidget(self.analysis_label)
        layout.addWidget(objects_box)
        layout.addLayout(node_row)
        layout.addLayout(send_row)
        layout.addWidget(self.result_table, 1)
        layout.addLayout(bottom)
        self.resize(820, 560)
        self.refresh_nodes()
        # follow the main window: another film, or landmarks placed while this window is open
        doc = getattr(controller.window, "doc", None)
        if doc is not None:
            doc.filmChanged.connect(self._on_doc_changed)
            doc.changed.connect(self._on_doc_changed)

    def _on_doc_changed(self) -> None:
        if self.isVisible():
            self._show_film()

    # --- state ---------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Show the open film and its analysis, and read the nodes again (when the window is opened)."""
        self._show_film()
        self.refresh_nodes()

    def _show_film(self) -> None:
        """Show the open film and what its analysis holds; results of an earlier send stay while the
        film is the same."""
        from .pacs_browser import person_name

        doc = self.controller.window.doc
        if doc.radiograph is None or doc.film_path is None:
            self.film_label.setText("Film: <b>no film</b> — open one to send its analysis.")
            self.summary = None
            self.analysis_label.clear()
            self._update_buttons()
            return
        film = doc.radiograph
        meta = getattr(film, "metadata", None)
        date = getattr(meta, "study_date", "") or ""
        who = person_name(getattr(meta, "patient_name", "") or "")
        pid = getattr(meta, "patient_id", "") or ""
        parts = [f"<b>{_escape(doc.film_path.name)}</b>" if doc.film_path else "<b>no film</b>"]
        if who or pid:
            parts.append(_escape(who + (f" (ID {pid})" if pid else "")))
        if len(date) == 8:
            parts.append(f"study of {date[:4]}-{date[4:6]}-{date[6:]}")
        self.film_label.setText("Film: " + " — ".join(parts))
        if self.task is None and doc.film_path != self._prepared_for:
            self.result_table.setRowCount(0)
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("")
            self._status("")
            self.last_outcome = None
        self._prepared_for = doc.film_path
        self.summary = analysis_summary(doc.case, doc.result)
        self.analysis_label.setText(self.summary.text)
        self.analysis_label.setStyleSheet(ERROR_STYLE if self.summary.measurements == 0 else "")
        self._update_buttons()

    def refresh_nodes(self) -> None:
        from dicom_io.pacs import NodeSettingsError

        from ..pacs_cli import load_user_nodes
        from .pacs_browser import LAST_NODE_KEY

        settings = getattr(self.controller.window, "settings", None)
        current = self.node_combo.currentData() or (str(settings.value(LAST_NODE_KEY, "") or "") if settings else "")
        try:
            self.nodes = dict(load_user_nodes())
        except (NodeSettingsError, OSError) as exc:
            self.nodes = {}
            self._status(str(exc), error=True)
        self.node_combo.blockSignals(True)
        self.node_combo.clear()
        for name, node in self.nodes.items():
            where = f"{node.called_aet}@{node.host}:{node.port}" if node.kind == "dimse" else node.url
            self.node_combo.addItem(f"{name}  ({where})", name)
        index = self.node_combo.findData(current)
        self.node_combo.setCurrentIndex(max(index, 0))
        self.node_combo.blockSignals(False)
        if not self.nodes and not self.status_label.text():
            self._status("No PACS node is set up yet: add one with the Nodes… button.")
        self._update_buttons()

    def chosen_kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind, box in self.kind_boxes.items() if box.isChecked())

    def _update_buttons(self) -> None:
        running = self.task is not None
        node = self.nodes.get(self.node_combo.currentData() or "")
        sendable = self.summary is not None and self.summary.sendable
        self.send_button.setEnabled(not running and node is not None and bool(self.chosen_kinds()) and sendable)
        self.cancel_button.setEnabled(running and not self.task.cancelled)
        for box in self.kind_boxes.values():
            box.setEnabled(not running)
        self.node_combo.setEnabled(not running)

    def _status(self, text: str, *, error: bool = False, ok: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else OK_STYLE if ok else "")

    # --- sending -------------------------------------------------------------------------------------
    def send(self) -> None:
        from ..dicom_export import ExportOptions

        window = self.controller.window
        doc = window.doc
        if doc.radiograph is None or doc.film_path is None:
            self._status("Open a film first: the results are sent into the film's study.", error=True)
            return
        node = self.nodes.get(self.node_combo.currentData() or "")
        kinds = self.chosen_kinds()
        if node is None or not kinds or self.task is not None:
            return
        summary = analysis_summary(doc.case, doc.result)
        if not summary.sendable:
            self._status(summary.text, error=True)
            return
        sent = self._sent
        if sent is not None and sent[0] == doc.film_path and sent[1] == node.name and set(kinds) & set(sent[2]) \
                and sent[3] == doc.case:
            answer = QMessageBox.question(
                self, "Send again?",
                f"This analysis was already stored on {node.label}. Sending it again adds another copy of each "
                "object to the study (new series), which every PACS viewer will show. Send it again?",
                QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
            if answer != QMessageBox.Yes:
                self._status("Not sent again.")
                return
        options = ExportOptions(kinds=kinds, window=window.view.window())
        case, film_path, case_path, radiograph = doc.case.copy(), doc.film_path, doc.case_path, doc.radiograph
        self._sending = (film_path, node.name, kinds, case.copy())
        self.result_table.setRowCount(0)
        self.last_outcome = None
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat("")
        self._status(f"Making {len(kinds)} object(s) and sending them to {node.label}…")
        self.task = self.runner.start(
            lambda progress, cancelled: _send(node, case, film_path, case_path, radiograph, options, progress,
                                              cancelled),
            self._on_sent, progress=self._on_progress, what="send")
        self._update_buttons()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self._status("Cancelling: what is already stored stays on the PACS…")
            self._update_buttons()

    def _on_progress(self, progress: Any) -> None:
        if progress.total:
            self.progress_bar.setRange(0, progress.total)
            self.progress_bar.setValue(min(progress.total, progress.done + progress.failed))
            self.progress_bar.setFormat(f"{progress.done + progress.failed} of {progress.total} sent")
        else:
            self.progress_bar.setRange(0, 0)
        if progress.message and self.task is not None and not self.task.cancelled:
            self._status(progress.message[:1].upper() + progress.message[1:] + "…")

    def _on_sent(self, outcome: Any, error: str, _cancelled: bool) -> None:
        self.task = None
        self.progress_bar.setRange(0, 1)
        if error:
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("")
            self._status(error, error=True)
            self._update_buttons()
            self.sendFinished.emit(None)
            return
        self.last_outcome = outcome
        result = outcome.result
        total = len(outcome.objects)
        if result.stored:
            self._sent = self._sending
        self.progress_bar.setRange(0, max(1, total))
        self.progress_bar.setValue(total)
        self.progress_bar.setFormat(f"{result.stored} of {total} stored")
        self._fill(outcome)
        if result.cancelled:
            text = f"Cancelled: {result.stored} of {total} object(s) were stored on {outcome.node_label}."
        elif result.failed:
            text = f"{result.stored} of {total} object(s) stored on {outcome.node_label}; see the table for the others."
        else:
            text = f"All {total} object(s) stored on {outcome.node_label}, in the film's study."
        if result.stored and self.summary is not None and self.summary.measurements == 0:
            text += " They hold the landmarks only: no measurement could be made."
        if outcome.warnings:
            text += " Note: " + "; ".join(outcome.warnings)
        self._status(text, error=bool(result.failed) and not result.cancelled, ok=not result.failed)
        self.controller.window.statusBar().showMessage(text, 10000)
        self._update_buttons()
        self.sendFinished.emit(outcome)

    def _fill(self, outcome: SendOutcome) -> None:
        table = self.result_table
        table.setRowCount(len(outcome.objects))
        for row, obj in enumerate(outcome.objects):
            stored = outcome.outcome_of(obj)
            status = stored.status if stored is not None else "failed"
            name = QTableWidgetItem(KIND_LABELS.get(obj.kind, obj.kind))
            name.setToolTip(obj.description)
            word = QTableWidgetItem(STATUS_WORDS.get(status, status))
            word.setBackground(QBrush(GOOD if status in ("stored", "warning") else BAD))
            if stored is None:
                detail_text = "no answer for this object"
            elif stored.message:
                detail_text = stored.message + (" (sent uncompressed)" if stored.converted else "")
            else:
                detail_text = f"{obj.description}; SOP Instance UID {obj.sop_instance_uid}"
            detail = QTableWidgetItem(detail_text)
            detail.setToolTip(f"Series Instance UID {obj.series_instance_uid}\nSOP Instance UID {obj.sop_instance_uid}")
            table.setItem(row, 0, name)
            table.setItem(row, 1, word)
            table.setItem(row, 2, detail)
        table.resizeRowsToContents()


def _escape(text: str) -> str:
    from html import escape

    return escape(text)
