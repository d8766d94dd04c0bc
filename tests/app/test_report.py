"""The PDF report: content checked against `measure`, patient fields, anonymisation, fonts, layout.

Reports are made for the small synthetic demo film and for a real film (pydicom-data's RG3_J2KR, a
lower leg with no pixel spacing), their text read back with pypdf. Pages are also rendered to PNG
under test-output/report/ for a person to look at (when poppler's pdftoppm is installed).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pydicom.data
import pytest
from pypdf import PdfReader

from dicom_io.demo import bank_specs, write_demo
from dicom_io.film import FilmMetadata, open_film
from measurements.case import load_case
from measurements.landmarks import Side
from measurements.measure import measure_case
from measurements.overlay import Layer
from measurements.present import DESCRIPTIONS, TABLE_KEYS, flag_text, format_value
from deformity_app import __version__
from deformity_app.report import (ReportError, ReportOptions, build_report, format_person_name,
                                  load_report_settings, render_region)

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output" / "report"
PDFTOPPM = shutil.which("pdftoppm")


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def isolated_home(tmp_path_factory):
    """Module-scoped fixtures build reports too: keep them off the user's settings."""
    home = tmp_path_factory.mktemp("report-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEFORMITY_APP_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The bundled demo's deformity (right proximal tibial varus) drawn at 0.6 mm: 625 x 1750 pixels."""
    folder = tmp_path_factory.mktemp("demo")
    film, case_path = write_demo(folder, bank_specs(0.6)["proximal_tibial_varus"], "demo")
    return film, case_path


def _build(case_path: Path, out: Path, options: ReportOptions | None = None, **kwargs):
    case = load_case(case_path)
    film = open_film(_film_of(case, case_path))
    return build_report(case, case_path, film, out, options or ReportOptions(), **kwargs)


def _film_of(case, case_path: Path) -> Path:
    p = Path(case.image["path"])
    return p if p.is_absolute() else case_path.parent / p


@pytest.fixture(scope="module")
def demo_report(demo, isolated_home, tmp_path_factory):
    _film, case_path = demo
    out = tmp_path_factory.mktemp("out") / "demo.pdf"
    info = _build(case_path, out, ReportOptions(reader="Dr A. Reader"))
    _keep_for_review(out, "demo")
    return info, out, case_path


RG3 = pydicom.data.get_testdata_file("RG3_J2KR.dcm")

# Hand-placed on RG3_J2KR (1760 x 1760, MONOCHROME1, a right distal tibia and ankle shown with the
# patient's right toward increasing x): the plafond, the talar dome centre, the tibial shaft, and a
# knee centre at the top edge of the film, where the tibia leaves it.
RG3_LANDMARKS = {
    "knee_center": [852.0, 40.0],
    "tibial_shaft_proximal_mid": [845.0, 300.0],
    "tibial_shaft_distal_mid": [815.0, 1000.0],
    "plafond_medial": [759.0, 1399.0],
    "plafond_lateral": [894.0, 1413.0],
    "ankle_center": [828.0, 1406.0],
}


@pytest.fixture(scope="module")
def rg3_case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rg3")
    case_path = folder / "lower leg.case.json"
    case_path.write_text(json.dumps({
        "format": "deformity-case/1",
        "image": {"path": RG3, "rows": 1760, "columns": 1760},
        "pixel_spacing_mm": None,
        "calibration": {"source": "none"},
        "patient_orientation": ["R", "F"],
        "reader": "Dr B. Reader",
        "limbs": {"right": {"landmarks": RG3_LANDMARKS}},
    }))
    return case_path


@pytest.fixture(scope="module")
def rg3_report(rg3_case, isolated_home, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "rg3.pdf"
    info = _build(rg3_case, out, ReportOptions(clinic_name="Klinik für Orthopädie"))
    _keep_for_review(out, "rg3")
    return info, out


def _keep_for_review(pdf: Path, name: str) -> None:
    """Copy the PDF to test-output/report/ and render its pages there (for a person to look at)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pdf, OUTPUT / f"{name}.pdf")
    if PDFTOPPM:
        for old in OUTPUT.glob(f"{name}-*.png"):
            old.unlink()
        for page in _rasterise(pdf, 110, OUTPUT / name):
            cv2.imwrite(str(page.with_suffix(".png")), cv2.imread(str(page)), [cv2.IMWRITE_PNG_COMPRESSION, 3])
            page.unlink()


def _rasterise(pdf: Path, dpi: int, stem: Path, first: int | None = None) -> list[Path]:
    """pdftoppm's pages as PPM files (its PNG encoder is ten times slower than its rendering)."""
    pages = ["-f", str(first), "-l", str(first)] if first else []
    subprocess.run([PDFTOPPM, "-r", str(dpi), *pages, str(pdf), str(stem)], check=True, timeout=60)
    return sorted(stem.parent.glob(stem.name + "-*.ppm"))


def _pages(pdf: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(str(pdf)).pages]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- content against `measure` ---------------------------------------------------------------------------


def _limb_sections(page_text: str) -> dict[Side, list[str]]:
    """Page 2's text cut into the right and left limb tables."""
    lines = _lines(page_text)
    starts = {side: lines.index(f"{side.label} limb") for side in (Side.RIGHT, Side.LEFT)
              if f"{side.label} limb" in lines}
    out = {}
    for side, start in starts.items():
        end = min([s for s in starts.values() if s > start] + [len(lines)])
        out[side] = lines[start:end]
    return out


def _check_tables_against_measure(pdf: Path, case_path: Path) -> None:
    result = measure_case(load_case(case_path))  # independently of the report code path
    sections = _limb_sections(_pages(pdf)[1])
    assert set(sections) == set(result.limbs)
    for side, limb in result.limbs.items():
        lines = sections[side]
        for key in TABLE_KEYS:
            i = lines.index(DESCRIPTIONS[key])
            value = format_value(key, limb)
            if value:
                assert lines[i + 1] == value, (side, key)
                flag = flag_text(key, limb)
                if flag:
                    assert flag in lines[i + 2:i + 4], (side, key)
            else:
                assert lines[i + 1].startswith("not measured") and "—" in lines[i + 2:i + 5], (side, key)
        assert any(limb.mat["summary"][:40] in line for line in lines), side


def test_demo_values_equal_measure(demo_report):
    info, pdf, case_path = demo_report
    _check_tables_against_measure(pdf, case_path)
    result = measure_case(load_case(case_path))
    text = "\n".join(_pages(pdf))
    assert f"{abs(result.lld_mm):.0f} mm ({'right' if result.lld_mm > 0 else 'left'} longer)" in text
    # the right limb is the drawn proximal tibial varus: MPTA flagged on page 1 and in the table
    assert "MPTA" in text and f"{format_value('mpta_deg', result.limbs[Side.RIGHT])} LOW" in _pages(pdf)[0]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_the_report_file_has_the_permissions_a_plain_file_gets(demo_report):
    _info, pdf, _ = demo_report
    plain = pdf.parent / "plain.txt"
    plain.write_text("x")
    assert pdf.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777  # not mkstemp's 0600


def test_demo_header_page_numbers_and_footer(demo_report):
    info, pdf, _ = demo_report
    pages = _pages(pdf)
    assert info.page_count == len(pages) == 3
    for n, text in enumerate(pages, start=1):
        assert f"page {n} of {len(pages)}" in text
        assert "Case: demo.case.json" in text and f"deformity-app {__version__}" in text
    first = pages[0]
    for field in ("DEMO, SYNTHETIC", "DEMO-0001", "1980-01-01", "Male", "2025-01-01", "Dr A. Reader", "AP"):
        assert field in first, field
    assert "Calibration: PixelSpacing, 0.6 x 0.6 mm per pixel" in first.replace("\n", " ")
    assert "readers differ by about" in first and "3.3 mm" in first
    # every later page names the patient (a chart page can come loose)
    assert all("DEMO, SYNTHETIC" in text and "ID DEMO-0001" in text for text in pages[1:])


def test_demo_has_every_joint_view(demo_report):
    info, pdf, _ = demo_report
    assert info.panels == ("Right hip", "Left hip", "Right knee", "Left knee", "Right ankle", "Left ankle")
    last = _pages(pdf)[-1]
    for panel in info.panels:
        assert panel in last


def test_film_is_embedded_once_as_jpeg_at_print_resolution(demo_report):
    _info, pdf, _ = demo_report
    page = PdfReader(str(pdf)).pages[0]
    xobjects = page["/Resources"]["/XObject"]
    images = [xobjects[k].get_object() for k in xobjects if xobjects[k].get_object()["/Subtype"] == "/Image"]
    assert len(images) == 1
    film = images[0]
    assert list(film["/Filter"]) == ["/DCTDecode"]  # the JPEG as it is, no re-encoding
    assert film["/Width"] <= 625 and film["/Height"] <= 1750  # never upsampled past the film
    # the overlay is vector drawing, not pixels: the page's content has many path operators
    content = page.get_contents().get_data()
    assert content.count(b" l\n") + content.count(b" l ") > 50


def test_uncalibrated_real_film(rg3_report, rg3_case):
    info, pdf = rg3_report
    _check_tables_against_measure(pdf, rg3_case)
    pages = _pages(pdf)
    text = "\n".join(pages)
    assert info.page_count == len(pages) == 3 and f"page 3 of 3" in pages[2]
    result = measure_case(load_case(rg3_case))
    right = result.limbs[Side.RIGHT]
    assert format_value("ldta_deg", right) in text and format_value("tibia_length_mm", right).endswith(" px")
    assert "Uncalibrated film: every length is in pixels" in text.replace("\n", " ")
    assert "Calibration: none (uncalibrated: angles only; lengths in pixels)" in text.replace("\n", " ")
    assert not re.search(r"\d mm\b(?! \(| per| medial| lateral|;)", pages[1].split("Notes")[0].replace("1 mm", ""))
    for field in ("CompressedSamples, RG3", "11RG3", "1979-04-08", "Female", "2004-08-26", "FUJI95706",
                  "N.C.C. HIGASHI", "Klinik für Orthopädie", "Dr B. Reader", "Case: lower leg.case.json"):
        assert field in text, field
    assert info.panels == ("Right ankle",)  # the knee has one landmark only: no view


def test_anonymised_report_has_no_identifier(rg3_case, isolated_home, tmp_path):
    out = tmp_path / "anon.pdf"
    info = _build(rg3_case, out, ReportOptions(anonymize=True))
    _keep_for_review(out, "rg3-anonymised")
    reader = PdfReader(str(out))
    text = "\n".join(p.extract_text() for p in reader.pages)
    metadata = " ".join(str(v) for v in (reader.metadata or {}).values())
    film = open_film(RG3)
    m = film.metadata
    identifiers = [m.patient_id, m.birth_date, "1979-04-08", m.accession_number, m.institution, "HIGASHI",
                   m.sop_instance_uid, m.study_instance_uid, "CompressedSamples", "RG3_J2KR", "lower leg.case.json",
                   "Non-ossifying"]
    for identifier in identifiers:
        assert identifier not in text and identifier not in metadata, identifier
    assert "Anonymised" in text and "Case: anonymised case" in text
    assert info.anonymized and info.page_count == 3
    assert format_value("ldta_deg", measure_case(load_case(rg3_case)).limbs[Side.RIGHT]) in text


def test_anonymised_demo_and_keep_institution(demo, isolated_home, tmp_path):
    _film, case_path = demo
    out = tmp_path / "anon.pdf"
    _build(case_path, out, ReportOptions(anonymize=True))
    text = "\n".join(_pages(out))
    for identifier in ("DEMO-0001", "SYNTHETIC", "19800101", "1980-01-01", "demo.case.json", "demo.dcm"):
        assert identifier not in text, identifier
    out2 = tmp_path / "anon-inst.pdf"
    _build(Path(case_path), out2, ReportOptions(anonymize=True, keep_institution=True),
           metadata=FilmMetadata(patient_name="X^Y", institution="Hôpital Nord"))
    assert "Hôpital Nord" in "\n".join(_pages(out2))


# --- names in any character set ----------------------------------------------------------------------------


def _film_with_name_of(charset_file: str, folder: Path) -> Path:
    """A small film carrying the patient name and Specific Character Set of a pydicom charset file."""
    ds = pydicom.dcmread(pydicom.data.get_charset_files(charset_file)[0])
    rows, cols = 600, 240
    yy, xx = np.mgrid[0:rows, 0:cols]
    pixels = (1000 + 2000 * np.exp(-((xx - 120) / 30.0) ** 2)).astype(np.uint16) + (yy % 7).astype(np.uint16)
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.astype("<u2").tobytes()
    ds["PixelData"].VR = "OW"
    path = folder / f"{charset_file}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def _small_case(folder: Path, film: Path) -> Path:
    case_path = folder / "name.case.json"
    case_path.write_text(json.dumps({
        "format": "deformity-case/1", "image": {"path": film.name}, "pixel_spacing_mm": [0.5, 0.5],
        "calibration": {"source": "PixelSpacing"},
        "limbs": {"right": {"landmarks": {"femoral_head_center": [120.0, 40.0], "knee_center": [118.0, 300.0],
                                          "ankle_center": [121.0, 560.0]}}},
    }))
    return case_path


@pytest.mark.parametrize("charset_file,name,expected", [
    ("chrH31.dcm", "Yamada^Tarou=山田^太郎=やまだ^たろう", ["Yamada, Tarou", "山田 太郎", "やまだ たろう"]),
    ("chrI2.dcm", "Hong^Gildong=洪^吉洞=홍^길동", ["Hong, Gildong", "洪 吉洞", "홍 길동"]),
    ("chrX2.dcm", "Wang^XiaoDong=王^小东", ["Wang, XiaoDong", "王 小东"]),
    ("chrRuss.dcm", "Люкceмбypг", ["Люкceмбypг"]),
])
def test_names_in_any_character_set_print(charset_file, name, expected, isolated_home, tmp_path):
    film = _film_with_name_of(charset_file, tmp_path)
    radiograph = open_film(film)
    assert radiograph.metadata.patient_name == name  # decoded by dicom_io from the file's character set
    case_path = _small_case(tmp_path, film)
    out = tmp_path / "name.pdf"
    info = build_report(load_case(case_path), case_path, radiograph, out, ReportOptions())
    if charset_file == "chrH31.dcm":
        _keep_for_review(out, "japanese-name")
    pages = [re.sub(r"\s+", "", page) for page in _pages(out)]  # pypdf breaks lines where the font changes
    for page in pages:  # the name on every page, in every script it was written in
        for piece in expected:
            assert re.sub(r"\s+", "", piece) in page, piece
    assert not [w for w in info.warnings if "font" in w]


def test_japanese_name_from_chrjapmulti_by_metadata_override(demo, isolated_home, tmp_path):
    """chrJapMulti.dcm has no image: its name reaches the report through the metadata override."""
    ds = pydicom.dcmread(pydicom.data.get_charset_files("chrJapMulti.dcm")[0])
    metadata = FilmMetadata(patient_name=str(ds.PatientName), patient_id=str(ds.PatientID))
    _film, case_path = demo
    out = tmp_path / "jp.pdf"
    _build(case_path, out, metadata=metadata)
    text = re.sub(r"\s+", "", "\n".join(_pages(out)))
    assert "やまだ,たろう" in text and "2008-4" in text and "DEMO-0001" not in text


def test_person_name_formatting():
    assert format_person_name("DOE^JOHN^Q^Dr^Jr") == "Dr DOE, JOHN Q Jr"
    assert format_person_name("Yamada^Tarou=山田^太郎=やまだ^たろう") == "Yamada, Tarou (山田 太郎; やまだ たろう)"
    assert format_person_name("=山田^太郎") == "山田 太郎"
    assert format_person_name("") == ""


# --- options, settings, paper ----------------------------------------------------------------------------


def test_letter_paper_and_clinic_from_settings(demo, isolated_home, tmp_path, monkeypatch):
    monkeypatch.setenv("DEFORMITY_APP_HOME", str(tmp_path / "home"))
    logo = tmp_path / "logo.png"
    img = np.zeros((60, 200, 3), np.uint8)
    cv2.rectangle(img, (5, 5), (195, 55), (40, 90, 200), -1)
    cv2.imwrite(str(logo), img)
    config = tmp_path / "home" / "config"
    config.mkdir(parents=True)
    (config / "settings.ini").write_text(
        f'[General]\nrecent=a, b\n\n[report]\nclinic_name="Clinique Saint-Éloi, Lyon"\nclinic_logo={logo}\n',
        encoding="utf-8")
    settings = load_report_settings()
    assert settings.clinic_name == "Clinique Saint-Éloi, Lyon" and settings.clinic_logo == logo
    _film, case_path = demo
    out = tmp_path / "letter.pdf"
    info = _build(case_path, out, ReportOptions(paper="letter"))
    reader = PdfReader(str(out))
    assert [round(float(v)) for v in reader.pages[0].mediabox[2:]] == [612, 792]
    assert "Clinique Saint-Éloi, Lyon" in " ".join(reader.pages[0].extract_text().split())
    assert info.page_count == len(reader.pages)
    xobjects = reader.pages[0]["/Resources"]["/XObject"]
    assert len(xobjects) == 2  # the film and the logo
    # the command-line / dialog choice wins over the settings
    out2 = tmp_path / "override.pdf"
    _build(case_path, out2, ReportOptions(clinic_name="Other Clinic"))
    assert "Other Clinic" in _pages(out2)[0] and "Saint-Éloi" not in _pages(out2)[0]


def test_unreadable_logo(demo, isolated_home, tmp_path):
    _film, case_path = demo
    bad = tmp_path / "logo.png"
    bad.write_text("not an image")
    with pytest.raises(ReportError, match="logo"):
        _build(case_path, tmp_path / "x.pdf", ReportOptions(clinic_logo=bad))
    assert not list(tmp_path.glob("*.pdf")) and not list(tmp_path.glob(".*.tmp"))


def test_written_atomically_and_unwritable_folder(demo, isolated_home, tmp_path):
    _film, case_path = demo
    out = tmp_path / "r.pdf"
    out.write_bytes(b"old")
    info = _build(case_path, out, ReportOptions(joint_panels=False))
    assert out.read_bytes().startswith(b"%PDF") and info.page_count == 2 and info.panels == ()
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]
    with pytest.raises(ReportError, match="cannot be written"):
        _build(case_path, tmp_path / "missing-folder" / "r.pdf")


# --- the picture and the vectors line up ---------------------------------------------------------------


def test_render_region_windows_inverts_and_pads():
    class Film:
        pixels = np.arange(100 * 40, dtype=np.uint16).reshape(100, 40)
        invert_display = True
        window_presets = ()
        voi_lut = None
        auto_window = None

    out = render_region(Film, -10, 0, 30, 100, 40, 100, window=(0.0, 4000.0))
    assert out.shape == (100, 40) and out.dtype == np.uint8
    assert (out[:, :10] == 0).all()  # outside the film: black, whatever the inversion
    assert out[0, 10] == 255 and out[-1, -1] < 20  # low values white when inverted


def _peak(profile: np.ndarray, lo: int, hi: int) -> float:
    """Centroid of the highest peak of `profile` inside [lo, hi)."""
    peak = lo + int(np.argmax(profile[lo:hi]))
    window = np.arange(peak - 12, peak + 13)
    weights = np.clip(profile[window] - np.median(profile[lo:hi]), 0, None)
    return float((window * weights).sum() / weights.sum())


@pytest.mark.skipif(PDFTOPPM is None, reason="pdftoppm (poppler-utils) is not installed")
def test_overlay_lines_up_with_the_film(isolated_home, tmp_path):
    """Dark rods in the film and lines placed on them print at the same place, across and down."""
    from dicom_io.film import Radiograph

    rows, cols = 1500, 500
    pixels = np.full((rows, cols), 3000, np.uint16)
    pixels[:, 149:152] = 100  # a vertical rod: columns 149..151, centre x = 150
    pixels[1099:1102, 300:451] = 100  # a horizontal rod: rows 1099..1101, centre y = 1100
    film = Radiograph.from_array(pixels)
    case_path = tmp_path / "rods.case.json"
    case_path.write_text(json.dumps({
        "format": "deformity-case/1", "image": {"rows": rows, "columns": cols}, "pixel_spacing_mm": [0.3, 0.3],
        "calibration": {"source": "PixelSpacing"},
        "limbs": {"right": {"landmarks": {"femoral_head_center": [150.0, 100.0], "ankle_center": [150.0, 1400.0],
                                          "plafond_medial": [320.0, 1100.0], "plafond_lateral": [430.0, 1100.0]}}},
    }))
    case = load_case(case_path)
    dpi = 300

    def render(layers: set[Layer]) -> np.ndarray:
        pdf = tmp_path / f"rods-{len(layers)}.pdf"
        build_report(case, case_path, film, pdf, ReportOptions(layers=frozenset(layers), joint_panels=False))
        return cv2.imread(str(_rasterise(pdf, dpi, pdf.with_suffix(""), first=1)[0])).astype(float)

    plain, drawn = render(set()), render({Layer.AXES, Layer.JOINT_LINES})
    height, width = plain.shape[:2]
    x0, x1 = int(0.09 * width), int(0.42 * width)  # inside the film, left of the findings column
    band = slice(int(0.45 * height), int(0.50 * height))  # film rows well above the horizontal rod
    rows_range = (int(0.3 * height), int(0.9 * height))
    dark = 255.0 - plain.mean(axis=2)
    yellow = drawn[:, :, 2] + drawn[:, :, 1] - 2 * drawn[:, :, 0]  # BGR: red + green - blue
    green = 2 * drawn[:, :, 1] - drawn[:, :, 2] - drawn[:, :, 0]
    rod_x = _peak(dark[band].mean(axis=0), x0, x1)
    axis_x = _peak(yellow[band].mean(axis=0), x0, x1)
    rod_y = _peak(dark[:, x0:x1].mean(axis=1), *rows_range)
    line_y = _peak(green[:, x0:x1].mean(axis=1), *rows_range)
    # one film pixel prints about 1.8 device pixels wide at 300 dpi; allow a quarter of a film pixel
    # for the rasteriser's image sampling
    assert abs(rod_x - axis_x) <= 0.8, (rod_x, axis_x)
    assert abs(rod_y - line_y) <= 0.8, (rod_y, line_y)


def test_report_module_does_not_import_qt():
    import sys

    code = ("import sys, deformity_app.report\n"
            "print(','.join(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


# --- the command line ---------------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    import sys

    return subprocess.run([sys.executable, "-m", "deformity_app.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_cli_report_end_to_end(demo, tmp_path):
    _film, case_path = demo
    out = tmp_path / "report.pdf"
    proc = _cli("report", str(case_path), "--out", str(out), "--anonymize", "--paper", "letter",
                "--clinic", "Hôpital de test", "--reader", "Dr C")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and proc.stdout.strip() == f"{out} (3 pages, anonymised)"
    reader = PdfReader(str(out))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert len(reader.pages) == 3 and "page 3 of 3" in text
    assert "Hôpital de test" in text and "Dr C" in text and "DEMO-0001" not in text
    assert [round(float(v)) for v in reader.pages[0].mediabox[2:]] == [612, 792]


def test_cli_default_output_beside_the_case(demo, tmp_path):
    film, case_path = demo
    folder = tmp_path / "copy"
    folder.mkdir()
    shutil.copy(film, folder / film.name)
    shutil.copy(case_path, folder / case_path.name)
    proc = _cli("report", str(folder / case_path.name))
    assert proc.returncode == 0, proc.stderr
    assert (folder / "demo.report.pdf").read_bytes().startswith(b"%PDF")


def _assert_refused(proc: subprocess.CompletedProcess, path: Path, reason: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(str(path)) and reason in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def test_cli_refuses_a_missing_case(tmp_path):
    path = tmp_path / "nope.case.json"
    _assert_refused(_cli("report", str(path), "--out", str(tmp_path / "r.pdf")), path, "file not found")
    assert not (tmp_path / "r.pdf").exists()


def test_cli_refuses_a_broken_case(tmp_path):
    path = tmp_path / "broken.case.json"
    path.write_text('{"format": "deformity-case/1", "limbs": {"right": {"landmarks": {"knee')
    _assert_refused(_cli("report", str(path), "--out", str(tmp_path / "r.pdf")), path, "not valid JSON")


def test_cli_refuses_a_case_whose_film_is_missing(demo, tmp_path):
    _film, case_path = demo
    path = tmp_path / "moved.case.json"
    shutil.copy(case_path, path)  # its film (demo.dcm, relative) is not in this folder
    _assert_refused(_cli("report", str(path), "--out", str(tmp_path / "r.pdf")), path, "could not be found")
    data = json.loads(path.read_text())
    del data["image"]["path"]
    path.write_text(json.dumps(data))
    _assert_refused(_cli("report", str(path), "--out", str(tmp_path / "r.pdf")), path, "names no film")


def test_cli_refuses_a_film_of_another_size(demo, tmp_path):
    _film, case_path = demo
    path = tmp_path / "other.case.json"
    data = json.loads(case_path.read_text())
    data["image"]["path"] = RG3
    path.write_text(json.dumps(data))
    _assert_refused(_cli("report", str(path), "--out", str(tmp_path / "r.pdf")), path, "1760 x 1760 pixels")


def test_cli_report_never_starts_qt(demo, tmp_path):
    import sys

    _film, case_path = demo
    code = ("import sys\nfrom deformity_app import cli\n"
            f"rc = cli.main(['report', {str(case_path)!r}, '--out', {str(tmp_path / 'r.pdf')!r}])\n"
            "assert rc == 0, rc\n"
            "sys.stderr.write(','.join(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == ""


def test_cli_refuses_a_logo_that_is_not_an_image(demo, tmp_path):
    _film, case_path = demo
    logo = tmp_path / "logo.png"
    logo.write_text("not a picture")
    _assert_refused(_cli("report", str(case_path), "--out", str(tmp_path / "r.pdf"), "--logo", str(logo)), logo,
             "cannot be read as an image")
