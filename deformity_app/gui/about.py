"""Help > About: the version, the licence, where the third-party notices and the user's files are.

    from .about import show_about
    show_about(parent)
"""
from __future__ import annotations

import platform
import sys
from html import escape
from importlib import metadata
from pathlib import Path

import PySide6
from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout,
                               QWidget)

from .. import __version__

__all__ = ["AboutDialog", "about_html", "licence_path", "notices_path", "program_folder", "show_about",
           "system_info"]

NOTICES = "THIRD-PARTY-NOTICES.txt"
LICENCE = "LICENSE"
GPL_NOTICE = (
    "This program is free software: you can redistribute it and/or modify it under the terms of the GNU "
    "General Public License as published by the Free Software Foundation, either version 3 of the License, "
    "or (at your option) any later version. This program is distributed in the hope that it will be useful, "
    "but WITHOUT ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or FITNESS FOR A "
    "PARTICULAR PURPOSE. See the GNU General Public License for more details."
)


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def program_folder() -> Path:
    """The built program's folder (where LICENSE and the notices are), or the source checkout."""
    if is_frozen():
        return Path(sys.executable).resolve().parent
    return Path(__file__).resolve().parents[2]


def _candidates(name: str) -> list[Path]:
    folders = [program_folder()]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        folders.append(Path(bundle))
    return [folder / name for folder in folders]


def licence_path() -> Path | None:
    """The GPL text: beside the program, in the checkout, or in the installed package's metadata."""
    for path in _candidates(LICENCE):
        if path.is_file():
            return path
    try:
        dist = metadata.distribution("deformity-app")
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if Path(str(f)).name == LICENCE:
            path = Path(dist.locate_file(f))
            if path.is_file():
                return path
    return None


def notices_path() -> Path | None:
    """THIRD-PARTY-NOTICES.txt of a built program (a source checkout has none: the build writes it)."""
    for path in _candidates(NOTICES):
        if path.is_file():
            return path
    return None


def _user_folders() -> list[tuple[str, str]]:
    from ..paths import user_dir

    out = []
    for label, kind in (("Settings", "config"), ("Recovery and data", "data"), ("Log", "log")):
        try:
            out.append((label, str(user_dir(kind))))
        except OSError as exc:
            out.append((label, f"unavailable ({exc.strerror or exc})"))
    return out


def system_info() -> str:
    """Versions and folders as plain text, for a support request (no user or patient data)."""
    lines = [
        f"deformity-app {__version__} ({'built program' if is_frozen() else 'source'})",
        f"Python {platform.python_version()}, Qt {qVersion()}, PySide6 {PySide6.__version__}",
        f"{platform.system()} {platform.release()} {platform.machine()}, Qt platform {QGuiApplication.platformName()}",
        f"Program folder: {program_folder()}",
    ]
    lines += [f"{label}: {path}" for label, path in _user_folders()]
    return "\n".join(lines)


def about_html() -> str:
    """The About box's text."""
    licence = licence_path()
    notices = notices_path()
    if notices is not None:
        notices_line = f"The other software in this program and its licences: <code>{escape(str(notices))}</code>."
    else:
        notices_line = ("This is a source installation: the third-party notices are written into the program "
                        "folder by the build (<code>python packaging/third_party_notices.py</code> writes them "
                        "for the installed packages).")
    folders = "".join(f"<tr><td>{escape(label)}:&nbsp;</td><td><code>{escape(path)}</code></td></tr>"
                      for label, path in _user_folders())
    return (
        f"<h3>deformity-app {escape(__version__)}</h3>"
        "<p>Limb deformity analysis on long-leg radiographs: mechanical axis deviation, joint orientation "
        "angles, limb lengths, the malalignment test and correction planning.</p>"
        f"<p>Copyright © the deformity-app contributors. Licence: GNU GPL version 3 or later"
        + (f" (<code>{escape(str(licence))}</code>)" if licence else "") + ".</p>"
        f"<p><small>{escape(GPL_NOTICE)}</small></p>"
        f"<p>{notices_line} Qt {escape(qVersion())} and PySide6 {escape(PySide6.__version__)} are used under the "
        "GNU LGPL version 3 and are separate, replaceable libraries; the JPEG decoder pylibjpeg-libjpeg is "
        "GPL-3.0.</p>"
        f"<table>{folders}</table>"
        "<p><small>The program keeps patient names and IDs out of its log.</small></p>"
    )


class TextViewer(QDialog):
    """A licence or the notices, read-only, searchable with the usual shortcuts."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.text = QPlainTextEdit(text)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.resize(760, 640)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About deformity-app")
        icon = QLabel()
        icon.setPixmap(QGuiApplication.windowIcon().pixmap(64, 64))
        icon.setAlignment(Qt.AlignHCenter)
        self.label = QLabel(about_html())
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.RichText)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.label.setMinimumWidth(560)

        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        self.licence_button = self._button(buttons, "&Licence", self.show_licence, licence_path() is not None)
        self.notices_button = self._button(buttons, "&Third-party notices", self.show_notices,
                                           notices_path() is not None)
        self._button(buttons, "Open log &folder", self.open_log_folder, True)
        self.copy_button = self._button(buttons, "&Copy system information", self.copy_info, True)

        layout = QVBoxLayout(self)
        layout.addWidget(icon)
        layout.addWidget(self.label)
        layout.addWidget(buttons)

    @staticmethod
    def _button(box: QDialogButtonBox, text: str, slot, enabled: bool) -> QPushButton:
        button = QPushButton(text)
        button.setEnabled(enabled)
        button.clicked.connect(slot)
        box.addButton(button, QDialogButtonBox.ActionRole)
        return button

    def _show_file(self, title: str, path: Path | None) -> TextViewer | None:
        if path is None:
            return None
        viewer = TextViewer(title, path.read_text(encoding="utf-8", errors="replace"), self)
        viewer.show()
        return viewer

    def show_licence(self) -> TextViewer | None:
        return self._show_file("deformity-app licence (GNU GPL version 3)", licence_path())

    def show_notices(self) -> TextViewer | None:
        return self._show_file("Third-party notices", notices_path())

    def open_log_folder(self) -> None:
        from ..paths import user_dir

        QDesktopServices.openUrl(QUrl.fromLocalFile(str(user_dir("log"))))

    def copy_info(self) -> None:
        QGuiApplication.clipboard().setText(system_info())
        self.copy_button.setText("&Copied")


def show_about(parent: QWidget | None = None) -> None:
    """Help > About (modal)."""
    AboutDialog(parent).exec()
