"""The packaging pieces that need no build: the notices generator, the icon, the desktop entry, the folder name."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_files_are_traced_to_their_distributions():
    notices = _load("third_party_notices")
    import numpy
    import pydicom

    owners, unowned = notices.trace([numpy.__file__, pydicom.__file__, str(REPO / "resources" / "normals.json")])
    # the project's own files are unowned or (editable install) owned by deformity-app: left out of the notices
    assert set(owners) - {"deformity-app"} == {"numpy", "pydicom"}
    assert unowned in ([], [(REPO / "resources" / "normals.json").resolve()])


def test_notices_hold_licence_texts_and_the_lgpl_for_qt(tmp_path):
    notices = _load("third_party_notices")
    import PySide6
    import libjpeg
    import pydicom

    out = notices.write_notices([PySide6.__file__, pydicom.__file__, libjpeg.__file__], tmp_path / "N.txt",
                                project_version="9.9", target="test")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("THIRD-PARTY NOTICES for deformity-app 9.9 (test)")
    assert "\npydicom " in text and "Permission is hereby granted" in text  # pydicom's MIT text
    assert "\npylibjpeg-libjpeg " in text and "GNU GENERAL PUBLIC LICENSE" in text
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text and "replace them" in text  # PySide6: LGPL text and note
    assert "Python Software Foundation" in text or "PSF" in text
    assert "DejaVu" in text and "pydicom test films" in text


def test_the_installed_requirements_are_listed(tmp_path):
    notices = _load("third_party_notices")
    closure = notices.requirement_closure()
    assert {"pydicom", "pylibjpeg-libjpeg", "pyside6-essentials", "numpy", "reportlab"} <= set(closure)
    assert "pytest" not in closure and "deformity-app" not in closure  # no test extras, not the project itself


def test_icon_renderings_exist_at_every_size():
    from PIL import Image

    icons = _load("make_icons")
    for size in icons.SIZES:
        with Image.open(icons.png_path(size)) as image:
            assert image.size == (size, size) and image.mode == "RGBA"


def test_windows_and_macos_icons_can_be_made(tmp_path):
    from PIL import Image

    icons = _load("make_icons")
    with Image.open(icons.write_ico(tmp_path / "a.ico")) as ico:
        assert (256, 256) in ico.info["sizes"] and (16, 16) in ico.info["sizes"]
    assert icons.write_icns(tmp_path / "a.icns").read_bytes()[:4] == b"icns"


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_the_desktop_entry_is_valid():
    proc = subprocess.run(["desktop-file-validate", str(PACKAGING / "linux" / "deformity-app.desktop")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_folder_name_carries_the_version():
    from deformity_app import __version__

    name = _load("dist_name").folder_name()
    assert name.startswith(f"deformity-app-{__version__}-")
    assert name.split("-")[-2] in ("linux", "windows", "macos")
