"""The pure packages never pull in Qt (shared/style.md, 'Keep the layering checkable')."""
import subprocess
import sys


def test_pure_packages_do_not_import_qt():
    code = (
        "import sys, measurements.case, measurements.measure, measurements.mat, measurements.present, "
        "measurements.geometry, measurements.normals, dicom_io\n"
        "import pkgutil, importlib\n"
        "for pkg in ('measurements', 'dicom_io'):\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(mod.__path__, pkg + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'deformity_app')]\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_measure_command_does_not_start_qt(tmp_path):
    code = (
        "import sys\n"
        "from deformity_app import cli\n"
        "from resources import resource_path\n"
        "rc = cli.main(['measure', str(resource_path('examples', 'worked_cases.case.json')), '--json'])\n"
        "assert rc == 0\n"
        "sys.stderr.write(','.join(m for m in sys.modules if m.startswith('PySide6')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == ""
