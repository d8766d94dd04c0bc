"""File > PACS nodes: add, edit, test and delete the named PACS of the user's settings.

The nodes are those of ``pacs.json`` (dicom-exchange.md, "Nodes"), read and written with
:func:`deformity_app.pacs_cli.load_user_nodes` / :func:`~deformity_app.pacs_cli.save_user_nodes`,
so the command line's ``--node NAME`` sees what is set here. Each node is checked by the node
types themselves (:class:`dicom_io.pacs.DimseNode`, :class:`~dicom_io.pacs.WebNode`): their
sentence is shown under the form and nothing is written until it is valid.
"""
from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .pacs_worker import PacsRunner

log = logging.getLogger(__name__)

__all__ = ["PacsNodesDialog", "echo_text"]

KINDS = (("dimse", "DICOM network (DIMSE)"), ("dicomweb", "DICOMweb (web services)"))
ERROR_STYLE = "color: #b00020;"
OK_STYLE = "color: #1b6e20;"


def echo_text(node: Any, seconds: float) -> str:
    """What a successful echo says, as the command line words it."""
    how = "C-ECHO" if node.kind == "dimse" else "DICOMweb search"
    return f"{node.label} answered ({how}) in {seconds * 1000:.0f} ms."


class PacsNodesDialog(QDialog):
    """The node list on the left, the chosen node's form on the right; Save writes ``pacs.json``."""

    nodesChanged = Signal()

    def __init__(self, runner: PacsRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from dicom_io.pacs import DEFAULT_CALLING_AET, DEFAULT_STORE_PORT
        from dicom_io.pacs.nodes import DEFAULT_TIMEOUT_S

        self.runner = runner
        self.setWindowTitle("PACS nodes")
        self.nodes: dict[str, Any] = {}
        self.editing: str | None = None  # the name of the node in the form (None: a new node)
        self._echo_generation = 0

        self.node_list = QListWidget()
        self.node_list.setMinimumWidth(170)
        self.node_list.currentItemChanged.connect(self._on_current)
        # Only Save is a default button: Enter in the form saves it (an auto-default button that
        # once had the focus would otherwise take Enter: an echo, or a new empty form).
        self.new_button = QPushButton("Ne&w")
        self.new_button.setAutoDefault(False)
        self.new_button.clicked.connect(self.new_node)
        self.delete_button = QPushButton("&Delete")
        self.delete_button.setAutoDefault(False)
        self.delete_button.clicked.connect(self.delete_node)
        left = QVBoxLayout()
        left.addWidget(QLabel("Nodes"))
        left.addWidget(self.node_list, 1)
        row = QHBoxLayout()
        row.addWidget(self.new_button)
        row.addWidget(self.delete_button)
        left.addLayout(row)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. radiology")
        self.kind_combo = QComboBox()
        for kind, label in KINDS:
            self.kind_combo.addItem(label, kind)
        self.timeout_spin = QDoubleSpinBox()
        self.timeout_spin.setRange(1.0, 3600.0)
        self.timeout_spin.setDecimals(1)
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setValue(DEFAULT_TIMEOUT_S)
        self.timeout_spin.setToolTip("How long to wait for the PACS before giving up")

        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("host name or address, e.g. 10.1.2.3")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(104)
        self.called_aet_edit = QLineEdit()
        self.called_aet_edit.setPlaceholderText("the PACS's AE title, e.g. PACS")
        self.calling_aet_edit = QLineEdit(DEFAULT_CALLING_AET)
        self.calling_aet_edit.setToolTip("This program's AE title, as the PACS knows it")
        self.retrieve_combo = QComboBox()
        self.retrieve_combo.addItem("C-GET (no inbound port needed)", "C-GET")
        self.retrieve_combo.addItem("C-MOVE (the PACS sends to this computer)", "C-MOVE")
        self.store_port_spin = QSpinBox()
        self.store_port_spin.setRange(1, 65535)
        self.store_port_spin.setValue(DEFAULT_STORE_PORT)
        self.store_port_spin.setToolTip("C-MOVE: the port this program listens on; the PACS must know it")
        self.retrieve_combo.currentIndexChanged.connect(self._on_retrieve)
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("https://pacs.example/dicom-web")

        # one form, so that the labels line up; the rows of the other kind are hidden
        self.form = QFormLayout()
        self.form.addRow("&Name", self.name_edit)
        self.form.addRow("&Kind", self.kind_combo)
        self.form.addRow("&Host", self.host_edit)
        self.form.addRow("&Port", self.port_spin)
        self.form.addRow("PACS &AE title", self.called_aet_edit)
        self.form.addRow("&Our AE title", self.calling_aet_edit)
        self.form.addRow("&Retrieve with", self.retrieve_combo)
        self.form.addRow("Stora&ge port (C-MOVE)", self.store_port_spin)
        self.form.addRow("&URL", self.url_edit)
        self.form.addRow("Ti&meout", self.timeout_spin)
        self._dimse_rows = (self.host_edit, self.port_spin, self.called_aet_edit, self.calling_aet_edit,
                            self.retrieve_combo, self.store_port_spin)
        self.kind_combo.currentIndexChanged.connect(self._on_kind)

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)

        self.test_button = QPushButton("&Test (echo)")
        self.test_button.setAutoDefault(False)
        self.test_button.setToolTip("Check that the PACS answers, with the values in the form")
        self.test_button.clicked.connect(self.test_node)
        self.save_button = QPushButton("&Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save_node)
        self.close_button = QPushButton("&Close")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.close)

        box = QGroupBox("Node")
        right = QVBoxLayout(box)
        right.addLayout(self.form)
        right.addWidget(self.error_label)
        right.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        right.addLayout(buttons)

        top = QHBoxLayout()
        top.addLayout(left)
        top.addWidget(box, 1)
        outer = QVBoxLayout(self)
        outer.addLayout(top, 1)
        outer.addWidget(self.status_label)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        outer.addLayout(bottom)
        self._on_retrieve()
        self._on_kind()
        # Again now that the button is inside the dialog: set while it sat in a group box not yet
        # in the dialog, Qt did not record it, and Enter went to the first auto-default button.
        self.save_button.setDefault(True)
        self.resize(760, 460)
        self.reload()

    # --- the list ------------------------------------------------------------------------------------
    def reload(self, select: str | None = None) -> None:
        """Read ``pacs.json`` again and show its nodes (selecting `select`, else the first)."""
        from dicom_io.pacs import NodeSettingsError

        from ..pacs_cli import load_user_nodes, nodes_path

        self.error_label.clear()
        try:
            self.nodes = dict(load_user_nodes())
        except NodeSettingsError as exc:
            self.nodes = {}
            self.error_label.setText(f"{exc} Saving a node here replaces that file.")
        except OSError as exc:
            self.nodes = {}
            self.error_label.setText(f"The PACS settings file {nodes_path()} cannot be read ({exc.strerror or exc}).")
        self.node_list.blockSignals(True)
        self.node_list.clear()
        for name in self.nodes:
            self.node_list.addItem(QListWidgetItem(name))
        self.node_list.blockSignals(False)
        names = list(self.nodes)
        target = select if select in self.nodes else (names[0] if names else None)
        if target is None:
            self.new_node()
        else:
            self.node_list.setCurrentRow(names.index(target))
            self._show(target)
        self.delete_button.setEnabled(bool(names))

    def _on_current(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if current is not None and current.text() in self.nodes:
            self._show(current.text())

    def _show(self, name: str) -> None:
        from dicom_io.pacs import DimseNode

        node = self.nodes[name]
        self.editing = name
        self.error_label.clear()
        self.name_edit.setText(name)
        self.timeout_spin.setValue(node.timeout_s)
        if isinstance(node, DimseNode):
            self.kind_combo.setCurrentIndex(0)
            self.host_edit.setText(node.host)
            self.port_spin.setValue(node.port)
            self.called_aet_edit.setText(node.called_aet)
            self.calling_aet_edit.setText(node.calling_aet)
            self.retrieve_combo.setCurrentIndex(self.retrieve_combo.findData(node.retrieve))
            self.store_port_spin.setValue(node.store_port)
        else:
            self.kind_combo.setCurrentIndex(1)
            self.url_edit.setText(node.url)

    def new_node(self) -> None:
        """Clear the form for a node not saved yet."""
        from dicom_io.pacs import DEFAULT_CALLING_AET, DEFAULT_STORE_PORT
        from dicom_io.pacs.nodes import DEFAULT_TIMEOUT_S

        self.editing = None
        self.node_list.blockSignals(True)
        self.node_list.clearSelection()
        self.node_list.setCurrentRow(-1)
        self.node_list.blockSignals(False)
        self.name_edit.clear()
        self.kind_combo.setCurrentIndex(0)
        self.host_edit.clear()
        self.port_spin.setValue(104)
        self.called_aet_edit.clear()
        self.calling_aet_edit.setText(DEFAULT_CALLING_AET)
        self.retrieve_combo.setCurrentIndex(0)
        self.store_port_spin.setValue(DEFAULT_STORE_PORT)
        self.timeout_spin.setValue(DEFAULT_TIMEOUT_S)
        self.url_edit.clear()
        self.name_edit.setFocus()

    def _on_kind(self, _index: int = 0) -> None:
        dimse = self.kind_combo.currentData() == "dimse"
        for widget in self._dimse_rows:
            self.form.setRowVisible(widget, dimse)
        self.form.setRowVisible(self.url_edit, not dimse)

    def _on_retrieve(self) -> None:
        self.store_port_spin.setEnabled(self.retrieve_combo.currentData() == "C-MOVE")

    # --- the form ------------------------------------------------------------------------------------
    def node_from_form(self) -> Any:
        """The node the form describes; raises NodeSettingsError with the sentence to show."""
        from dicom_io.pacs import DimseNode, NodeSettingsError, WebNode

        name = self.name_edit.text().strip()
        if not name:
            raise NodeSettingsError("Give the node a name (it is what the browser and --node NAME use).")
        if name != self.editing and name in self.nodes:
            raise NodeSettingsError(f"A node named {name!r} already exists: choose another name.")
        original = self.nodes.get(self.editing) if self.editing is not None else None
        kind = self.kind_combo.currentData()
        if kind == "dimse":
            extra = dict(original.extra) if isinstance(original, DimseNode) else {}
            return DimseNode(host=self.host_edit.text().strip(), port=self.port_spin.value(),
                             called_aet=self.called_aet_edit.text(), calling_aet=self.calling_aet_edit.text(),
                             retrieve=self.retrieve_combo.currentData(), store_port=self.store_port_spin.value(),
                             timeout_s=float(self.timeout_spin.value()), name=name, extra=extra)
        extra = dict(original.extra) if isinstance(original, WebNode) else {}
        return WebNode(url=self.url_edit.text().strip(), timeout_s=float(self.timeout_spin.value()), name=name,
                       extra=extra)

    def _checked_node(self) -> Any | None:
        from dicom_io.pacs import NodeSettingsError

        try:
            node = self.node_from_form()
        except NodeSettingsError as exc:
            self.error_label.setText(str(exc))
            return None
        self.error_label.clear()
        return node

    def save_node(self) -> bool:
        """Check the form and write every node to ``pacs.json``; False (with the reason shown) when refused."""
        from ..pacs_cli import nodes_path, save_user_nodes

        node = self._checked_node()
        if node is None:
            return False
        nodes = {}
        for name, existing in self.nodes.items():  # keep the order, a renamed node in its place
            if name == self.editing:
                nodes[node.name] = node
            else:
                nodes[name] = existing
        nodes.setdefault(node.name, node)
        try:
            save_user_nodes(nodes)
        except OSError as exc:
            self.error_label.setText(f"The PACS settings could not be written to {nodes_path()} "
                                     f"({exc.strerror or exc}).")
            return False
        self._status(f"Saved the node {node.name!r}.", ok=True)
        self.reload(select=node.name)
        self.nodesChanged.emit()
        return True

    def delete_node(self) -> None:
        from ..pacs_cli import save_user_nodes

        name = self.editing
        if name is None or name not in self.nodes:
            return
        answer = QMessageBox.question(self, "Delete PACS node", f"Delete the PACS node {name!r}?",
                                      QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        if answer != QMessageBox.Yes:
            return
        nodes = {k: v for k, v in self.nodes.items() if k != name}
        try:
            save_user_nodes(nodes)
        except OSError as exc:
            self.error_label.setText(f"The PACS settings could not be written ({exc.strerror or exc}).")
            return
        self._status(f"Deleted the node {name!r}.", ok=True)
        self.reload()
        self.nodesChanged.emit()

    def test_node(self) -> None:
        """Echo the node of the form (saved or not), off the GUI thread.

        Test stays clickable while an echo waits: after correcting a port the user tests again at
        once, and only the answer of the latest test is shown (a silent PACS takes the whole
        timeout to give up)."""
        from dicom_io.pacs import open_client

        node = self._checked_node()
        if node is None:
            return
        self._echo_generation += 1
        generation = self._echo_generation
        self._status(f"Asking {node.label}… (at most {node.timeout_s:.0f} s)")

        def done(seconds: Any, error: str, _cancelled: bool) -> None:
            if generation != self._echo_generation:
                return
            if error:
                self._status(error, error=True)
            else:
                self._status(echo_text(node, seconds), ok=True)

        self.runner.start(lambda _progress, _cancelled: open_client(node).echo(), done, what="echo")

    def _status(self, text: str, *, error: bool = False, ok: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else OK_STYLE if ok else "")
