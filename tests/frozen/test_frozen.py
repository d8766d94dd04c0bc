"""The built program (PyInstaller, build.spec): it runs where nobody has Python.

Skipped unless DEFORMITY_BUILD_TEST=1, because the build takes minutes:

    DEFORMITY_BUILD_TEST=1 .venv/bin/python -m pytest tests/frozen -s

builds with `make dist-build` (which installs PyInstaller into .venv; `make dist` is that and these
tests), then runs the BUILT executable:
--version, --self-test, `measure` and `report` on the bundled example, `export` (highdicom),
`pacs echo` against a closed port (pynetdicom; dicomweb-client and requests), `score` and
`agreement` (scipy.special), and the application itself offscreen on the demo film; then copies the
folder to another path (with a space and accents in it) and runs it there. It also checks what the
folder holds: the notices, the Qt plugins, no test or development packages, no path of the build
machine. DEFORMITY_BUILD_REUSE=1 tests an existing dist/ folder instead of building (for working on
these tests).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
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
    proc = subprocess.run(["make", "dist-build"], cwd=REPO, capture_output=True, text=True, timeout=2400)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(f"{folder.name}: built by `make dist-build` in {seconds:.0f} s, {_size(folder) / 1e6:.0f} MB\n"
                      + proc.stdout[-3000:])
    print(f"\n{folder.name}: make dist-build took {seconds:.0f} s; folder {_size(folder) / 1e6:.0f} MB")
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
    # the build drew the demo: the first start opens the shipped one and draws nothing
    shipped = next(built.rglob(f"resources/demo/demo-{GENERATOR_VERSION}/demo.dcm"))
    assert shipped.stat().st_size > 1_000_000
    assert not (home / f"demo-{GENERATOR_VERSION}").exists()
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


def _demo_case(folder: Path) -> Path:
    import dataclasses

    from dicom_io.demo import DEFAULT_DEMO, write_demo

    _film, case = write_demo(folder, dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=0.6))
    return case


def test_export_writes_the_dicom_objects_the_source_writes(built, env, tmp_path):
    """highdicom (and its bundled tables of the DICOM standard), pillow and opencv in the built program."""
    import pydicom

    from deformity_app.dicom_export import KINDS, export_case
    from measurements.case import load_case

    case = _demo_case(tmp_path / "demo")
    out = tmp_path / "out"
    proc = _run(built, env, "export", str(case), "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = json.loads(proc.stdout)
    assert [o["kind"] for o in written] == list(KINDS)
    film = pydicom.dcmread(case.parent / "demo.dcm", stop_before_pixels=True)

    expected, _warnings = export_case(load_case(case), case, tmp_path / "source")
    by_kind = {obj.kind: obj.dataset for obj, _path in expected}
    for obj in written:
        ds = pydicom.dcmread(obj["file"])
        assert Path(obj["file"]).parent == out
        assert ds.SOPClassUID == obj["sop_class_uid"] == by_kind[obj["kind"]].SOPClassUID
        assert ds.StudyInstanceUID == film.StudyInstanceUID
        # the same object as the source tree writes, element for element (the UIDs and times differ)
        assert set(ds.dir()) == set(by_kind[obj["kind"]].dir()), obj["kind"]
    sc = pydicom.dcmread(out / "demo.sc.dcm")
    assert sc.pixel_array.std() > 10  # the film with its overlay, drawn


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nobody listens once it is closed


@pytest.mark.parametrize("node", ["dimse", "dicomweb"])
def test_pacs_echo_to_a_closed_port_is_one_clean_line(built, env, node):
    """The networking stack is bundled: pynetdicom (DIMSE), or dicomweb-client with requests and urllib3."""
    port = _closed_port()
    target = ["--host", "127.0.0.1", "--port", str(port), "--called-aet", "NOBODY"] if node == "dimse" \
        else ["--url", f"http://127.0.0.1:{port}/dicom-web"]
    proc = _run(built, env, "pacs", "echo", *target, "--timeout", "10", timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deformity-app: "), proc.stderr
    assert f"127.0.0.1:{port}" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout and "ModuleNotFoundError" not in proc.stderr


def test_score_and_agreement_give_what_the_source_gives(built, env, tmp_path, capsys):
    """The practice commands: scipy.special (the ICC intervals) and the agreement PDF in the built program."""
    from deformity_app.practice_cli import main
    from measurements.case import save_case
    from tests.measurements.test_agreement import mixed_study
    from tests.measurements.worked_cases import NORMAL, TIBIAL_VARUS, make_case

    study = mixed_study(tmp_path / "study")
    pdf = tmp_path / "agreement.pdf"
    proc = _run(built, env, "agreement", str(study), "--json", "--pdf", str(pdf))
    assert proc.returncode == 0, proc.stderr
    assert main(["agreement", str(study), "--json"]) == 0
    assert json.loads(proc.stdout) == json.loads(capsys.readouterr().out)
    assert pdf.read_bytes()[:5] == b"%PDF-"

    key, attempt = tmp_path / "key.case.json", tmp_path / "attempt.case.json"
    for limbs, path in (({"right": NORMAL}, key), ({"right": TIBIAL_VARUS}, attempt)):
        case = make_case(limbs)
        case.image["sop_instance_uid"] = "1.2.3"
        save_case(case, path)
    proc = _run(built, env, "score", str(attempt), str(key), "--json")
    assert proc.returncode == 0, proc.stderr
    assert main(["score", str(attempt), str(key), "--json"]) == 0
    assert json.loads(proc.stdout) == json.loads(capsys.readouterr().out)


def test_the_folder_copied_to_another_path_runs_there(built, env, tmp_path, capsys):
    """Issue 8's definition of done: copied elsewhere, it self-tests, opens the demo film, measures, reports."""
    import numpy as np
    from PySide6.QtGui import QImage

    from deformity_app.cli import main
    from deformity_app.selftest import checks

    copy = tmp_path / "Clinic programs" / "déformité" / built.name
    shutil.copytree(built, copy, symlinks=True)

    proc = _run(copy, env, "--self-test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == f"all {len(checks())} checks passed"

    shot = tmp_path / "window.png"
    exe = copy / ("deformity-app.exe" if sys.platform == "win32" else "deformity-app")
    gui = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300,
                         env={**env, "DEFORMITY_APP_QUIT_AFTER_LOAD": str(shot)}, cwd=str(tmp_path))
    assert gui.returncode == 0, gui.stderr
    image = QImage(str(shot)).convertToFormat(QImage.Format_Grayscale8)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    assert image.width() > 600 and pixels.std() > 10
    log = (Path(env["DEFORMITY_APP_HOME"]) / "log" / "deformity-app.log").read_text(encoding="utf-8")
    assert "(frozen)" in log and "first film shown" in log

    measured = _run(copy, env, "measure", str(EXAMPLE), "--json")
    assert measured.returncode == 0, measured.stderr
    assert main(["measure", str(EXAMPLE), "--json"]) == 0
    assert json.loads(measured.stdout) == json.loads(capsys.readouterr().out)

    case = _demo_case(tmp_path / "demo")
    pdf = tmp_path / "report.pdf"
    report = _run(copy, env, "report", str(case), "--out", str(pdf))
    assert report.returncode == 0, report.stderr
    assert pdf.read_bytes()[:5] == b"%PDF-"


# Distributions the build must list in its notices (the PACS and export stack included), and the
# ones it must not contain at all: test extras of .venv, development tools, pyjpegls (left out, see build.spec).
BUNDLED = ("pydicom", "pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle", "PySide6_Essentials",
           "shiboken6", "numpy", "opencv-python-headless", "reportlab", "platformdirs", "scipy", "pillow",
           "pynetdicom", "dicomweb-client", "highdicom", "requests", "urllib3", "certifi", "idna",
           "charset-normalizer", "retrying", "Python")
NOT_BUNDLED = ("pytest", "_pytest", "hypothesis", "pytestqt", "pingouin", "pandas", "matplotlib", "seaborn",
               "statsmodels", "sklearn", "pypdf", "pydicom_data", "importlinter", "PyInstaller", "jpeg_ls",
               "_CharLS", "tkinter", "IPython")


def test_licences_notices_and_desktop_files(built):
    notices = (built / "THIRD-PARTY-NOTICES.txt").read_text(encoding="utf-8")
    for name in BUNDLED:
        assert f"\n{name} " in notices, name
    assert "ships no licence file" not in notices  # every distribution comes with its licence text
    assert "no owner found" not in notices and "(no copyright file found)" not in notices
    for name in ("pyjpegls", "pytest", "hypothesis", "pingouin", "pandas", "matplotlib", "pyinstaller-hooks-contrib"):
        assert f"\n{name} " not in notices.lower(), name
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


def test_no_test_or_development_package_is_bundled(built):
    CArchiveReader = pytest.importorskip("PyInstaller.archive.readers").CArchiveReader  # `make dist` installs it

    exe = built / ("deformity-app.exe" if sys.platform == "win32" else "deformity-app")
    modules = set(CArchiveReader(str(exe)).open_embedded_archive("PYZ.pyz").toc)
    tops = {m.split(".")[0] for m in modules}
    assert not tops & set(NOT_BUNDLED), sorted(tops & set(NOT_BUNDLED))
    assert not [m for m in modules if {"tests", "test", "conftest"} & set(m.split(".")[1:])]
    internal = built / "_internal" if (built / "_internal").is_dir() else built
    files = {p.name for p in internal.iterdir()}
    assert not [n for n in files if n.split(".")[0].split("-")[0] in NOT_BUNDLED or n.startswith("_CharLS")]
    assert not [p for p in internal.rglob("tests") if p.is_dir()]
    # what the lazily loaded parts need is there
    assert {"pynetdicom.service_class", "pynetdicom.service_class_n", "dicomweb_client.web", "requests",
            "highdicom.sr", "pydicom.pixels.decoders.pylibjpeg", "measurements.agreement"} <= modules
    assert list((internal / "scipy" / "special").glob("_ufuncs.*"))
    assert (internal / "highdicom" / "_standard" / "module_attribute_map.json").is_file()
    assert list(internal.glob("pynetdicom-*.dist-info")) and list(internal.glob("certifi/cacert.pem"))
