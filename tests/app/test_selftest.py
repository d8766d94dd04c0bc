"""`deformity-app --self-test`: one `ok` line per check from a source tree, FAIL and exit 1 when something is missing."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys

import pytest

from deformity_app import selftest

LABELS = (
    "Explicit VR Little Endian", "Implicit VR Little Endian", "Explicit VR Big Endian",
    "Deflated Explicit VR Little Endian", "RLE Lossless", "JPEG Baseline (8-bit)", "JPEG Extended (12-bit)",
    "JPEG Lossless (SV1)", "JPEG-LS Lossless", "JPEG 2000 Lossless", "JPEG 2000 (lossy)",
)


def _run_in_process(**kwargs) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = selftest.run_self_test(out, qt=False, **kwargs)
    return code, out.getvalue().splitlines()


def _line(lines: list[str], name: str) -> str:
    [line] = [ln for ln in lines if ln[5:].startswith(name)]
    return line


@pytest.mark.slow
def test_self_test_from_the_source_tree_passes(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DEFORMITY_APP_HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from deformity_app.cli import main; sys.exit(main(['--self-test']))"],
        capture_output=True, text=True, timeout=240, env=env)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    *checks, summary = lines
    expected = selftest.checks()
    assert len(checks) == len(expected)
    assert all(line.startswith("ok   ") for line in checks), lines
    for line, check in zip(checks, expected):
        assert line == f"ok   {check.name}" or line.startswith(f"ok   {check.name} (")
    for label in LABELS:
        assert f"ok   decode {label} (" in proc.stdout
    assert summary == f"all {len(expected)} checks passed"
    assert "SELFTEST" not in proc.stdout and "Lestrade" not in proc.stdout  # no patient field is printed


def test_every_transfer_syntax_is_checked():
    names = [c.name for c in selftest.transfer_syntax_checks()]
    assert names == [f"decode {label}" for label in LABELS[:5]] + [
        "decode JPEG Baseline (8-bit)", "decode JPEG 2000 Lossless", "decode JPEG 2000 (lossy)",
        "decode JPEG Extended (12-bit)", "decode JPEG Lossless (SV1)", "decode JPEG-LS Lossless"]


def test_missing_normals_fail_with_exit_1(monkeypatch, tmp_path):
    from measurements import normals

    monkeypatch.setattr(normals, "DEFAULT_NORMALS_PATH", tmp_path / "normals.json")
    monkeypatch.setattr(normals, "_default", None)  # as in a fresh process: nothing read yet
    code, lines = _run_in_process()
    assert code == selftest.EXIT_FAILED
    line = _line(lines, "normal values")
    assert line.startswith("FAIL normal values") and "normals.json cannot be read" in line
    # what measures needs the normals too; the rest of the installation is still reported as fine
    failed = {ln[5:].split(":")[0] for ln in lines[:-1] if ln.startswith("FAIL ")}
    assert failed == {"normal values", "example case", "demo film", "report"}
    assert lines[-1] == f"4 of {len(lines) - 1} checks FAILED"
    assert all(ln.startswith("ok   ") for ln in lines if ln.startswith("ok   decode") or "decode" in ln)


def test_a_broken_font_fails(monkeypatch, tmp_path):
    import resources

    copy = tmp_path / "resources"
    shutil.copytree(resources.RESOURCES_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "fonts" / "DejaVuSans.ttf").write_bytes(b"not a font")
    (copy / "fonts" / "DejaVuSans-Bold.ttf").unlink()
    monkeypatch.setattr(resources, "RESOURCES_DIR", copy)
    code, lines = _run_in_process()
    assert code == selftest.EXIT_FAILED
    assert _line(lines, "font DejaVuSans.ttf").startswith("FAIL font DejaVuSans.ttf: ")
    assert "cannot be read as a TrueType font" in _line(lines, "font DejaVuSans.ttf")
    assert "DejaVuSans-Bold.ttf is missing" in _line(lines, "font DejaVuSans-Bold.ttf")
    assert _line(lines, "font DroidSansFallback.ttf").startswith("ok   ")
    assert lines[-1].startswith("2 of ")


def test_missing_plugin_metadata_is_named(monkeypatch):
    """A frozen build without pylibjpeg's entry points finds no plugin: the check says why."""
    import pylibjpeg.utils

    monkeypatch.setattr(pylibjpeg.utils, "get_pixel_data_decoders", lambda *a, **k: {})
    check = next(c for c in selftest.checks(qt=False) if c.name == "pylibjpeg decoder plugins")
    [result] = selftest.run_checks([check])
    assert not result.ok
    assert "metadata" in result.detail and "JPEG Lossless" in result.detail


def test_a_decoder_failure_names_the_cause(monkeypatch):
    from dicom_io import film

    def broken(_path, **_kwargs):
        raise film.FilmError("This film could not be opened") from RuntimeError("no plugin for 1.2.840.10008.1.2.5")

    monkeypatch.setattr(film, "open_film", broken)
    check = next(c for c in selftest.transfer_syntax_checks() if c.name == "decode RLE Lossless")
    [result] = selftest.run_checks([check])
    assert result.line().startswith("FAIL decode RLE Lossless: ")
    assert "no plugin for 1.2.840.10008.1.2.5" in result.line()
    assert "\n" not in result.line()


def test_the_qt_check_runs_in_process(qapp):
    check = next(c for c in selftest.checks() if c.name == "Qt")
    [result] = selftest.run_checks([check])
    assert result.ok, result.detail
    assert "offscreen" in result.detail


def test_the_version_check_fails_without_metadata(monkeypatch):
    import deformity_app

    monkeypatch.setattr(deformity_app, "__version__", "0.0.0+unknown")
    [result] = selftest.run_checks([selftest.Check("version", selftest._check_version)])
    assert not result.ok and "metadata" in result.detail
