"""Starting the application: Qt, settings in the user's folder, the log and the crash dialog,
recovery, and the first film.

An exception nobody caught (in a slot, a paint event, a worker thread) is logged (redacted), the
open work is saved to its recovery file, and a dialog shows what happened with a copyable report
and the log's path; the user may continue or quit. With ``DEFORMITY_APP_QUIT_AFTER_LOAD`` set,
the application quits once the first film is shown (exit 0; 3 when the film failed, 1 after an
unhandled exception, without a dialog; message boxes are closed as if Escape was pressed): the
built program's smoke test. A value ending in ``.png`` also saves a picture of the window there.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication, QIcon
from PySide6.QtWidgets import (QApplication, QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPlainTextEdit,
                               QPushButton, QStyle, QVBoxLayout, QWidget)

from .. import __version__
from ..logs import (current_log_file, describe_runtime, enable_faulthandler, install_excepthook, log_file,
                    remember_patient)
from ..paths import user_dir

log = logging.getLogger(__name__)

QUIT_AFTER_LOAD = "DEFORMITY_APP_QUIT_AFTER_LOAD"
EXIT_FILM_FAILED = 3
EXIT_CRASHED = 1
#: After this many crash dialogs in one session, further errors are only logged (no dialog storm
#: from an error in a paint event).
MAX_CRASH_DIALOGS = 3
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)


def make_settings() -> QSettings:
    """Settings in an INI file in the user's config folder (isolated by DEFORMITY_APP_HOME in tests)."""
    return QSettings(str(user_dir("config") / "settings.ini"), QSettings.IniFormat)


def app_icon() -> QIcon:
    """The application icon from the PNG renderings in resources/icons (no SVG plugin needed)."""
    from resources import resource_path

    icon = QIcon()
    for size in ICON_SIZES:
        path = resource_path("icons", f"deformity-app-{size}.png")
        if path.is_file():
            icon.addFile(str(path))
    return icon


def _ensure_fonts() -> None:
    """A machine without any font (a minimal Linux install) would show no text: use the bundled DejaVu Sans."""
    if QFontDatabase.families():
        return
    from resources import resource_path

    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        QFontDatabase.addApplicationFont(str(resource_path("fonts", name)))
    log.info("no system fonts found; using the bundled DejaVu Sans")


# --- the crash dialog -------------------------------------------------------------------------------------


def save_open_work() -> str:
    """Write the recovery file of every main window with unsaved work; a sentence on what happened."""
    saved, failed = 0, []
    for widget in QApplication.topLevelWidgets():
        autosave = getattr(widget, "_autosave", None)
        doc = getattr(widget, "doc", None)
        if not callable(autosave) or doc is None:
            continue
        if not getattr(doc, "modified", False):
            continue
        try:
            autosave()
            saved += 1
        except Exception as exc:  # noqa: BLE001 - the crash path must go on
            failed.append(type(exc).__name__)
            log.exception("the recovery file could not be written after an error")
    if failed:
        return "Your unsaved work could not be saved for recovery; save it now if the program still responds."
    if saved:
        return ("Your unsaved work has been saved for recovery: if the program has to close, it will be offered "
                "back the next time it starts.")
    return "There was no unsaved work."


def crash_report(summary: str, details: str, log_path: Path | None) -> str:
    """The text a user copies into an e-mail to support (redacted already)."""
    return "\n".join([
        describe_runtime(),
        f"Time: {_dt.datetime.now().isoformat(timespec='seconds')}",
        f"Log: {log_path or 'none'}",
        f"Error: {summary}",
        "",
        details,
    ])


class CrashDialog(QDialog):
    """What went wrong, a copyable report, the log's folder, and the choice to continue or quit."""

    def __init__(self, summary: str, report: str, work_note: str, log_path: Path | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("deformity-app: unexpected error")
        self.quit_requested = False
        self.report = report
        self.work_note = work_note
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.SP_MessageBoxCritical).pixmap(48, 48))
        text = QLabel(
            f"<b>Something went wrong inside deformity-app.</b><br>{_html(summary)}<br><br>{_html(work_note)}"
            "<br><br>Please send the report below to whoever supports the program. Patient names and IDs the "
            "program knows of are removed from it; please check it before you send it." + (f"<br>The log file is <code>{_html(str(log_path))}</code>." if log_path else ""))
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        top = QHBoxLayout()
        top.addWidget(icon, 0, Qt.AlignTop)
        top.addWidget(text, 1)
        self.details = QPlainTextEdit(report)
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.details.setMinimumSize(640, 220)

        buttons = QDialogButtonBox()
        self.copy_button = QPushButton("&Copy report")
        self.copy_button.clicked.connect(self.copy_report)
        buttons.addButton(self.copy_button, QDialogButtonBox.ActionRole)
        if log_path is not None:
            folder = QPushButton("Open &log folder")
            folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_path.parent))))
            buttons.addButton(folder, QDialogButtonBox.ActionRole)
        self.quit_button = buttons.addButton("&Quit deformity-app", QDialogButtonBox.DestructiveRole)
        self.quit_button.clicked.connect(self._quit)
        self.continue_button = buttons.addButton("C&ontinue", QDialogButtonBox.AcceptRole)
        for button in buttons.buttons():
            button.setAutoDefault(False)
        self.continue_button.setDefault(True)
        self.continue_button.setFocus()
        buttons.accepted.connect(self.accept)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)

    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.report)
        self.copy_button.setText("&Copied")

    def _quit(self) -> None:
        self.quit_requested = True
        self.reject()


def _html(text: str) -> str:
    from html import escape

    return escape(text).replace("\n", "<br>")


class _CrashRelay(QObject):
    """Brings an error from any thread to the GUI thread (a queued signal) and shows it there."""

    crashed = Signal(str, str)

    def __init__(self, quit_without_dialog: bool) -> None:
        super().__init__()
        self.quit_without_dialog = quit_without_dialog
        self.shown = 0
        self.showing = False
        self.crashed.connect(self._on_crash)

    def _on_crash(self, summary: str, details: str) -> None:
        app = QApplication.instance()
        if self.quit_without_dialog:  # an unattended run: no dialog, a failing exit status
            if app is not None:
                app.exit(EXIT_CRASHED)
            return
        if self.showing or self.shown >= MAX_CRASH_DIALOGS:
            return  # already logged; no dialog storm
        work_note = save_open_work()
        self.showing = True
        self.shown += 1
        try:
            path = current_log_file()
            parent = QApplication.activeWindow()
            dialog = CrashDialog(summary, crash_report(summary, details, path), work_note, path, parent)
            dialog.exec()
            if dialog.quit_requested and app is not None:
                log.info("the user quit after an unexpected error")
                app.exit(EXIT_CRASHED)
        finally:
            self.showing = False


_relay: _CrashRelay | None = None


def install_crash_dialog(quit_without_dialog: bool = False) -> None:
    """Log every unhandled exception and show the crash dialog for it (in the GUI thread)."""
    global _relay
    _relay = _CrashRelay(quit_without_dialog)
    relay = _relay
    install_excepthook(lambda summary, details: relay.crashed.emit(summary, details))


# --- start -----------------------------------------------------------------------------------------------


def run_gui(file: str | None = None) -> int:
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("deformity-app")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("deformity-app")  # Wayland and the Linux desktop entry match on it
    app.setWindowIcon(app_icon())
    _ensure_fonts()
    enable_faulthandler()
    quit_after_load = os.environ.get(QUIT_AFTER_LOAD, "")
    install_crash_dialog(quit_without_dialog=bool(quit_after_load))
    log.info("application started (Qt platform %s), log %s", QGuiApplication.platformName(),
             current_log_file() or log_file())
    window = MainWindow(make_settings())
    window.filmLoaded.connect(lambda: _remember(window))
    if quit_after_load:
        _quit_after_first_film(app, window, quit_after_load)
    window.show()

    def first_film() -> None:
        if window.offer_recovery():
            return
        if file:
            window.open_path(Path(file))
        else:
            window.open_demo()

    QTimer.singleShot(0, first_film)
    return app.exec()


def _remember(window) -> None:
    """Keep the patient of the film just opened out of the log from now on."""
    film = getattr(window.doc, "radiograph", None)
    if film is not None:
        remember_patient(film.metadata)


def _quit_after_first_film(app: QApplication, window, setting: str) -> None:
    def loaded() -> None:
        QTimer.singleShot(300, finish)  # let the view paint the film once

    def finish() -> None:
        picture = window.grab()  # renders every widget, as a screen would
        if setting.lower().endswith(".png"):
            picture.save(setting)
        log.info("first film shown; quitting (%s)", QUIT_AFTER_LOAD)
        window.close()
        app.exit(0)

    def failed(message: str) -> None:
        log.error("the first film could not be shown; quitting (%s)", QUIT_AFTER_LOAD)
        app.exit(EXIT_FILM_FAILED)

    def close_dialogs() -> None:
        # nobody is there to answer: a message box (an error, the recovery offer) gets its Escape answer
        dialog = QApplication.activeModalWidget()
        if dialog is not None:
            log.warning("unattended run: closing the dialog %r", dialog.windowTitle())
            dialog.close()

    window.filmLoaded.connect(loaded)
    window.filmFailed.connect(failed)
    timer = QTimer(window)
    timer.timeout.connect(close_dialogs)
    timer.start(250)
