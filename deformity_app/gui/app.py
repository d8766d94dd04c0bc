"""Starting the application: Qt, settings in the user's folder, recovery, and the first film."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from .. import __version__
from ..paths import user_dir

log = logging.getLogger(__name__)


def make_settings() -> QSettings:
    """Settings in an INI file in the user's config folder (isolated by DEFORMITY_APP_HOME in tests)."""
    return QSettings(str(user_dir("config") / "settings.ini"), QSettings.IniFormat)


def run_gui(file: str | None = None) -> int:
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("deformity-app")
    app.setApplicationVersion(__version__)
    window = MainWindow(make_settings())
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
