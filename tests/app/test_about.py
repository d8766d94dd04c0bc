"""Help > About: version, licence, where the notices and the user's folders are."""
from __future__ import annotations

import sys

import pytest

from deformity_app import __version__
from deformity_app.gui import about


def test_about_names_the_version_the_licence_and_the_folders(qapp, _isolated_user_dirs):
    html = about.about_html()
    assert f"deformity-app {__version__}" in html
    assert "GNU GPL version 3 or later" in html and "WITHOUT ANY WARRANTY" in html
    assert "LGPL" in html and "pylibjpeg-libjpeg" in html
    assert str(_isolated_user_dirs / "log") in html
    assert about.licence_path() is not None and "GNU GENERAL PUBLIC LICENSE" in about.licence_path().read_text()


def test_a_source_checkout_says_the_build_writes_the_notices(qapp):
    assert about.notices_path() is None
    assert "the build" in about.about_html()


@pytest.fixture
def built_layout(tmp_path, monkeypatch):
    """The folder of a built program: the executable, LICENSE and the notices beside it."""
    (tmp_path / "LICENSE").write_text("GNU GENERAL PUBLIC LICENSE (test copy)")
    (tmp_path / "THIRD-PARTY-NOTICES.txt").write_text("THIRD-PARTY NOTICES for deformity-app\npydicom MIT\n")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "deformity-app"))
    return tmp_path


def test_a_built_program_shows_its_notices(qtbot, built_layout):
    assert about.notices_path() == built_layout / "THIRD-PARTY-NOTICES.txt"
    assert about.licence_path() == built_layout / "LICENSE"
    dialog = about.AboutDialog()
    qtbot.addWidget(dialog)
    assert str(built_layout / "THIRD-PARTY-NOTICES.txt") in dialog.label.text()
    assert dialog.notices_button.isEnabled() and dialog.licence_button.isEnabled()
    viewer = dialog.show_notices()
    qtbot.addWidget(viewer)
    assert "pydicom MIT" in viewer.text.toPlainText()
    viewer = dialog.show_licence()
    qtbot.addWidget(viewer)
    assert "test copy" in viewer.text.toPlainText()


def test_system_information_is_copied(qtbot):
    from PySide6.QtGui import QGuiApplication

    dialog = about.AboutDialog()
    qtbot.addWidget(dialog)
    dialog.copy_info()
    text = QGuiApplication.clipboard().text()
    assert text.startswith(f"deformity-app {__version__} (source)")
    assert "Qt " in text and "Log: " in text


def test_show_about_is_modal(qtbot, monkeypatch):
    shown = []
    monkeypatch.setattr(about.AboutDialog, "exec", lambda self: shown.append(self.windowTitle()) or 0)
    about.show_about(None)
    assert shown == ["About deformity-app"]
