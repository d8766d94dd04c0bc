"""Starting the application: the quit-after-load hook of the smoke test, the icon, the log of a session."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

START = "import sys; from deformity_app.cli import main; sys.exit(main(sys.argv[1:]))"


def _start(tmp_path, *args: str, shot: str = "1") -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DEFORMITY_APP_HOME": str(tmp_path / "home"),
           "DEFORMITY_APP_QUIT_AFTER_LOAD": shot}
    return subprocess.run([sys.executable, "-c", START, *args], capture_output=True, text=True, timeout=180, env=env)


@pytest.mark.slow
def test_the_application_shows_a_film_and_quits(tmp_path, small_demo):
    import numpy as np
    from PySide6.QtGui import QImage

    shot = tmp_path / "window.png"
    proc = _start(tmp_path, str(small_demo[0]), shot=str(shot))
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(shot))
    assert image.width() > 600 and image.height() > 400
    grey = image.convertToFormat(QImage.Format_Grayscale8)
    pixels = np.frombuffer(grey.constBits(), np.uint8).reshape(grey.height(), grey.bytesPerLine())
    assert pixels.std() > 10  # a window with a film, not a blank surface
    log = (tmp_path / "home" / "log" / "deformity-app.log").read_text(encoding="utf-8")
    assert "application started" in log and "first film shown" in log
    assert "DEMO^SYNTHETIC" not in log and "DEMO-0001" not in log and "SYNTHETIC" not in log


@pytest.mark.slow
def test_a_film_that_fails_exits_3(tmp_path):
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00" * 40)
    proc = _start(tmp_path, str(bad))
    assert proc.returncode == 3, proc.stderr


def test_the_icon_has_every_size(qapp):
    from deformity_app.gui.app import ICON_SIZES, app_icon

    icon = app_icon()
    assert not icon.isNull()
    assert sorted(s.width() for s in icon.availableSizes()) == sorted(ICON_SIZES)
