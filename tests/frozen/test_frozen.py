"""The built program (PyInstaller, build.spec): it runs where nobody has Python.

Skipped unless DEFORMITY_BUILD_TEST=1, because the build takes minutes:

    DEFORMITY_BUILD_TEST=1 .venv/bin/python -m pytest tests/frozen -s

builds with `make dist` (which installs PyInstaller into .venv), then runs the BUILT executable:
--version, --self-test, `measure` and `report` on the bundled example, and the application itself
offscreen on the demo film. DEFORMITY_BUILD_REUSE=1 tests an existing dist/ folder instead of
building (for working on these tests).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "resources" / "examples" / "worked_cases.case.json"
REPORT = REPO / "test-output" / "build.txt"

pytestmark = [
    pytest.mark.skipif(os.environ.get("DEFORMITY_BUILD_TEST") != "1",
                       reason="builds the program with PyInstaller (minutes): set DEFORMITY_BUILD_TEST=1"),
    pytest.mark.slow,
    pytest.mark.timeout(2400),
]


def _folder_name() -> str:
    out = subprocess.run([sys.executable, str(REPO / "packaging" / "dist_name.py")], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="module")
def built() -> Path:
    folder = REPO / "dist" / _folder_name()
    if os.environ.get("DEFORMITY_BUILD_REUSE") == "1" and folder.is_dir():
        return folder
    started = time.monotonic()
    proc = subprocess.run(["make", "dist"], cwd=REPO, capture_output=True, text=True, timeout=2400)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(f"{folder.name}: built by `make dist` in {seconds:.0f} s, {_size(folder) / 1e6:.0f} MB\n"
                      + proc.stdout[-3000:])
    print(f"\n{folder.name}: make dist took {seconds:.0f} s; folder {_size(folder) / 1e6:.0f} MB")
    return folder


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """No Python of ours on the path, the user's folders in a temporary place, no display."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "QT_"))}
    return {**base, "QT_QPA_PLATFORM": "offscreen", "DEFORMITY_APP_HOME": str(tmp_path / "home"),
            "PATH": "/usr/bin:/bin"}


def _exe(folder: Path) -> Path:
    name = "deformity-app-cli.exe" if sys.platform == "win32" else "deformity-app"
    return folder / name


def _run(folder: Path, env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(_exe(folder)), *args], capture_output=True, text=True, env=env, timeout=timeout,
                          cwd=str(Path(env["DEFORMITY_APP_HOME"]).parent))


def test_version(built, env):
    from deformity_app import __version__

    proc = _run(built, env, "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"deformity-app {__version__}"
    assert __version__ in built.name


def test_self_test(built, env):
    from deformity_app.selftest import checks

    proc = _run(built, env, "--self-test")
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    *lines, summary = proc.stdout.splitlines()
    assert len(lines) == len(checks()) and all(line.startswith("ok   ") for line in lines)
    assert summary == f"all {len(lines)} checks passed"


def test_measure_gives_what_the_source_gives(built, env, capsys):
    from deformity_app.cli import main

    proc = _run(built, env, "measure", str(EXAMPLE), "--json")
    assert proc.returncode == 0, proc.stderr
    assert main(["measure", str(EXAMPLE), "--json"]) == 0
    assert json.loads(proc.stdout) == json.loads(capsys.readouterr().out)
    table = _run(built, env, "measure", str(EXAMPLE))
    assert table.returncode == 0 and "MAT:" in table.stdout


def test_report_on_a_demo_case(built, env, tmp_path):
    from dicom_io.demo import DEFAULT_DEMO, write_demo
    import dataclasses

    _film, case = write_demo(tmp_path / "demo", dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=0.6))
    out = tmp_path / "report.pdf"
    proc = _run(built, env, "report", str(case), "--out", str(out), "--anonymize")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:5] == b"%PDF-"


def test_the_application_starts_offscreen_on_the_demo(built, env, tmp_path):
    import numpy as np
    from PySide6.QtGui import QImage

    shot = tmp_path / "window.png"
    env = {**env, "DEFORMITY_APP_QUIT_AFTER_LOAD": str(shot)}
    exe = built / ("deformity-app.exe" if sys.platform == "win32" else "deformity-app")
    proc = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(shot)).convertToFormat(QImage.Format_Grayscale8)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    assert image.width() > 600 and pixels.std() > 10  # the window shows the film
    from dicom_io.demo import GENERATOR_VERSION

    home = Path(env["DEFORMITY_APP_HOME"])
    assert (home / f"demo-{GENERATOR_VERSION}" / "demo.dcm").is_file()  # the demo was generated by the frozen generator
    log = (home / "log" / "deformity-app.log").read_text(encoding="utf-8")
    assert "(frozen)" in log and "first film shown" in log
    assert "DEMO^SYNTHETIC" not in log and "DEMO-0001" not in log


def test_a_case_given_on_the_command_line_opens(built, env, tmp_path):
    import dataclasses

    from dicom_io.demo import DEFAULT_DEMO, write_demo

    _film, case = write_demo(tmp_path / "cd", dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=0.6), name="leg")
    env = {**env, "DEFORMITY_APP_QUIT_AFTER_LOAD": "1"}
    exe = built / ("deformity-app.exe" if sys.platform == "win32" else "deformity-app")
    proc = subprocess.run([str(exe), str(case)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "first film shown" in (Path(env["DEFORMITY_APP_HOME"]) / "log" / "deformity-app.log").read_text()


def test_licences_notices_and_desktop_files(built):
    notices = (built / "THIRD-PARTY-NOTICES.txt").read_text(encoding="utf-8")
    for name in ("pydicom", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "PySide6_Essentials", "shiboken6", "numpy",
                 "opencv-python-headless", "reportlab", "platformdirs", "Python"):
        assert f"\n{name} " in notices, name
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in notices and "Version 3, 29 June 2007" in notices
    assert "DejaVu" in notices and "PyInstaller" in notices
    assert "GNU GENERAL PUBLIC LICENSE" in (built / "LICENSE").read_text()
    assert (built / "README.txt").is_file()
    if sys.platform.startswith("linux"):
        desktop = (built / "deformity-app.desktop").read_text()
        assert "Exec=deformity-app %f" in desktop and "MimeType=application/dicom;" in desktop
        assert (built / "deformity-app.png").is_file() and os.access(built / "install-desktop-entry.sh", os.X_OK)


def test_qt_plugins_are_pruned(built):
    plugins = next(built.rglob("PySide6/Qt/plugins"))
    platforms = {p.name for p in (plugins / "platforms").iterdir()}
    if sys.platform.startswith("linux"):
        assert {"libqxcb.so", "libqoffscreen.so", "libqwayland.so"} <= platforms
        assert not {"libqeglfs.so", "libqvnc.so", "libqlinuxfb.so"} & platforms
    assert not (plugins / "sqldrivers").exists() and not (plugins / "qmltooling").exists()
    assert not list(built.rglob("*Qt6Pdf*")) and not list(built.rglob("*Qt6Quick*"))
    assert not list(built.rglob("*qt_*.qm"))  # no Qt translations


def test_no_path_of_the_build_machine(built):
    needle = str(REPO).encode()
    found = []
    for path in built.rglob("*"):
        if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
            found.append(str(path.relative_to(built)))
    assert found == []
