"""The report's planning page: CORAs, before and after drawings, each plan's correction, the predicted
values (checked against an independent `simulate`), growth, and no page for a case without plans.

The demo deformity (right proximal tibial varus, CORA 60 mm below the knee) is drawn at 0.6 mm and
planned twice on the right tibia: a cut across the tibia along the bisector through the CORA with the
hinge at the CORA and the CORA's angle (Paley's rule 1, neutral wedge), and the same cut hinged at its
lateral end solved for the Fujisawa point (WBL 62.5 %, opening wedge). Pages are rendered to PNG under
test-output/report-planning/ for a person to look at (when poppler's pdftoppm is installed).
"""
from __future__ import annotations

import dataclasses
import math
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from pypdf import PdfReader

from dicom_io.demo import DEFAULT_DEMO, write_demo
from dicom_io.film import open_film
from measurements.case import load_case
from measurements.landmarks import Side
from measurements.measure import measure_case
from measurements.planning import find_cora, simulate
from measurements.present import LABELS, flag_text, format_value
from deformity_app.report import (PLANNING_KEYS, ReportOptions, _fragment_band, _moved_picture, build_report,
                                  render_region)

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output" / "report-planning"
PDFTOPPM = shutil.which("pdftoppm")
CUT_HALF_MM = 22.0  # the demo tibia is about 42 mm wide at the CORA's level


@pytest.fixture(scope="module")
def isolated_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("report-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEFORMITY_APP_HOME", str(home))
        yield home


def _plans(case) -> list[dict]:
    cora = find_cora(case, Side.RIGHT, "tibia")
    (cx, cy), (dx, dy) = cora.cora_px, cora.bisector_px.direction_px
    half = CUT_HALF_MM / case.pixel_spacing_mm[1]
    cut = [[cx + dx * half, cy + dy * half], [cx - dx * half, cy - dy * half]]
    lateral_end = min(cut, key=lambda p: p[0])  # the right limb's lateral side is toward smaller x on this film
    return [
        {"name": "HTO at the CORA", "bone": "tibia", "osteotomy_px": cut, "hinge_px": [cx, cy],
         "angle_deg": round(cora.angle_deg, 2)},
        {"name": "Opening wedge to Fujisawa", "bone": "tibia", "osteotomy_px": cut, "hinge_px": lateral_end,
         "target": {"wbl_pct": 62.5}},
    ]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    film, case_path = write_demo(folder, dataclasses.replace(DEFAULT_DEMO, pixel_spacing_mm=0.6), name="planned")
    return film, case_path


def _case(case_path: Path, plans: bool = True, child: bool = True):
    case = load_case(case_path)
    if plans:
        case.limbs[Side.RIGHT].extra["plans"] = _plans(case)
    if child:
        case.extra["patient"] = {"sex": "male", "age_years": 8.25}
    return case


def _pages(pdf: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(str(pdf)).pages]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _keep_for_review(pdf: Path, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pdf, OUTPUT / f"{name}.pdf")
    if PDFTOPPM:
        for old in OUTPUT.glob(f"{name}-*.png"):
            old.unlink()
        stem = OUTPUT / name
        subprocess.run([PDFTOPPM, "-r", "110", str(pdf), str(stem)], check=True, timeout=60)
        for page in sorted(OUTPUT.glob(f"{name}-*.ppm")):  # pdftoppm's PNG encoder is slow
            cv2.imwrite(str(page.with_suffix(".png")), cv2.imread(str(page)), [cv2.IMWRITE_PNG_COMPRESSION, 3])
            page.unlink()


@pytest.fixture(scope="module")
def reports(demo, isolated_home, tmp_path_factory):
    film, case_path = demo
    out = tmp_path_factory.mktemp("out")
    radiograph = open_film(film)
    planned = build_report(_case(case_path), case_path, radiograph, out / "planned.pdf",
                           ReportOptions(reader="Dr A. Reader"))
    plain = build_report(_case(case_path, plans=False), case_path, radiograph, out / "plain.pdf",
                         ReportOptions(reader="Dr A. Reader"))
    _keep_for_review(planned.path, "planned")
    return planned, plain, case_path


def test_a_planning_page_is_added_for_the_planned_limb(reports):
    planned, plain, _ = reports
    assert planned.page_count == plain.page_count + 1
    pages = _pages(planned.path)
    assert [i for i, text in enumerate(pages) if "Osteotomy planning" in text] == [len(pages) - 1]
    assert "Osteotomy planning: right limb" in pages[-1] and "left limb" not in pages[-1].split("\n")[0]
    assert not any("Osteotomy planning" in text for text in _pages(plain.path))
    assert not planned.warnings


def test_planning_page_says_what_an_independent_simulation_says(reports):
    planned, _, case_path = reports
    case = _case(case_path)
    page = _pages(planned.path)[-1]
    flat = " ".join(_lines(page))
    lines = _lines(page)
    sims = [simulate(case, Side.RIGHT, plan) for plan in case.limbs[Side.RIGHT].extra["plans"]]
    current = measure_case(case).limbs[Side.RIGHT]

    # the CORA of the tibia as drawn (8° varus, 60 mm below the knee centre), none in the femur
    assert "8.0° varus" in flat and "60 mm below the knee centre" in flat and "no CORA (under 2°)" in flat
    for number, sim in enumerate(sims, start=1):
        assert f"{number} · {sim.name}" in flat
        assert f"Paley's rule {sim.rule}" in flat and sim.rule == 1
        assert f"{sim.wedge.capitalize()} wedge: medial {sim.opening['medial']:+.1f} mm" in flat
        lateral = sim.opening["lateral"]
        assert f"lateral {'0.0' if round(lateral, 1) == 0 else format(lateral, '+.1f')} mm" in flat
        assert f"Length change: {sim.length_change:+.1f} mm" in flat
        assert f"{abs(sim.angle_deg):.1f}° toward valgus" in flat
    assert sims[0].wedge == "neutral" and "as entered" in flat
    assert sims[1].wedge == "opening" and "solved for WBL 62.5 %" in flat

    # the table: Measurement | Current | After 1 | After 2 | Normal, one line per cell
    start = lines.index("Measurement")
    for key in PLANNING_KEYS:
        label = "WBL" if key == "wbl_pct" else LABELS[key]
        i = lines.index(label, start)
        cells = lines[i + 1:i + 4]
        if key == "wbl_pct":
            assert cells[1:] == [f"{s.predicted['wbl_pct']:.1f} %" for s in sims], key
            continue
        assert cells[0] == format_value(key, current) + (f" {flag_text(key, current)}" if flag_text(key, current)
                                                          else ""), key
        for sim, cell in zip(sims, cells[1:]):
            value, flag = format_value(key, sim.predicted_result), flag_text(key, sim.predicted_result)
            assert value and cell == value + (f" {flag}" if flag else ""), (key, cell)
    assert "MPTA" in flat and "79.3° LOW" in flat  # the deformity, flagged like the rest of the report

    # growth for a boy of 8.25 years: multiplier 1.445 (planning.md), labelled as congenital
    assert "multiplier 1.445" in flat and "8.25 years" in flat and "congenital (proportional)" in flat


def test_anonymised_plan_page_and_a_plan_that_cannot_be_computed(demo, isolated_home, tmp_path):
    film, case_path = demo
    case = _case(case_path)
    broken = dict(case.limbs[Side.RIGHT].extra["plans"][1], name="Too far", target={"wbl_pct": 400})
    case.limbs[Side.RIGHT].extra["plans"].append(broken)
    info = build_report(case, case_path, open_film(film), tmp_path / "anon.pdf",
                        ReportOptions(anonymize=True, joint_panels=False))
    page = " ".join(_lines(_pages(info.path)[-1]))
    assert "Osteotomy planning: right limb" in page and "DEMO" not in page
    assert "3 · Too far — tibia: cannot be computed: no angle between -45° and 45° reaches a WBL of 400 %" in page
    assert "multiplier 1.445" in page and "8.25 years" not in page  # the age is left out with the birth date
    assert any("Too far" in w for w in info.warnings)


def test_planning_option_leaves_the_page_out(demo, isolated_home, tmp_path):
    film, case_path = demo
    info = build_report(_case(case_path), case_path, open_film(film), tmp_path / "off.pdf",
                        ReportOptions(planning=False, joint_panels=False))
    assert info.page_count == 2 and not any("Osteotomy planning" in t for t in _pages(info.path))


def test_the_moved_fragment_lands_where_the_affine_sends_it():
    """A bright dot inside the band is drawn, after the osteotomy, where the fragment's matrix maps it."""
    pixels = np.zeros((400, 300), np.uint16)
    dot = (150.0, 300.0)  # x, y
    cv2.circle(pixels, (int(dot[0]), int(dot[1])), 3, 1000, -1)
    radiograph = SimpleNamespace(pixels=pixels, invert_display=False)
    ctx = SimpleNamespace(radiograph=radiograph, window=(0.0, 1000.0))
    band = [(100.0, 200.0), (200.0, 200.0), (200.0, 390.0), (100.0, 390.0)]
    a = math.radians(10.0)
    hinge = (100.0, 200.0)
    matrix = ((math.cos(a), -math.sin(a), hinge[0] - math.cos(a) * hinge[0] + math.sin(a) * hinge[1] + 4.0),
              (math.sin(a), math.cos(a), hinge[1] - math.sin(a) * hinge[0] - math.cos(a) * hinge[1]))
    region = (20, 40, 280, 400)
    scale = 1.5
    out_w, out_h = int((region[2] - region[0]) * scale), int((region[3] - region[1]) * scale)
    after = _moved_picture(ctx, region, out_w, out_h, band, matrix)
    x = matrix[0][0] * dot[0] + matrix[0][1] * dot[1] + matrix[0][2]
    y = matrix[1][0] * dot[0] + matrix[1][1] * dot[1] + matrix[1][2]
    expected = ((x + 0.5 - region[0]) * scale - 0.5, (y + 0.5 - region[1]) * scale - 0.5)
    m = cv2.moments((after > 128).astype(np.uint8), binaryImage=True)
    found = (m["m10"] / m["m00"], m["m01"] / m["m00"])
    assert math.dist(found, expected) < 0.75, (found, expected)
    # outside the band the film is untouched; where the fragment was and no longer is, it is shaded
    before = render_region(radiograph, *region, out_w, out_h, ctx.window)
    u, v = (round((dot[i] + 0.5 - region[i]) * scale - 0.5) for i in (0, 1))
    assert before[v, u] == 255 and after[v, u] < 128


def test_fragment_band_is_the_viewers(demo):
    pytest.importorskip("PySide6.QtGui")
    from deformity_app.gui.planning import fragment_polygon

    _film, case_path = demo
    case = _case(case_path)
    for plan in case.limbs[Side.RIGHT].extra["plans"]:
        ours = _fragment_band(case, Side.RIGHT, plan)
        theirs = [(p.x(), p.y()) for p in fragment_polygon(case, Side.RIGHT, plan)]
        assert np.allclose(ours, theirs, atol=1e-9)


def test_export_dialog_offers_the_planning_page(qtbot_or_skip, demo, isolated_home):
    from PySide6.QtCore import QSettings

    from deformity_app.gui.report_dialog import ReportDialog, _Doc
    from deformity_app.report import settings_path

    film, case_path = demo
    dialog = ReportDialog(None, _Doc(_case(case_path), case_path, open_film(film), film),
                          settings=QSettings(str(settings_path()), QSettings.IniFormat))
    qtbot_or_skip.addWidget(dialog)
    assert dialog.planning_check.isChecked() and dialog.options().planning
    assert "planning page per limb: right limb, 2 plans" in dialog.preview.toPlainText()
    dialog.planning_check.setChecked(False)
    assert not dialog.options().planning and "planning page" not in dialog.preview.toPlainText()
    dialog.planning_check.setChecked(True)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    dialog.show()
    dialog.grab().save(str(OUTPUT / "dialog.png"))


@pytest.fixture
def qtbot_or_skip(request):
    pytest.importorskip("pytestqt")
    return request.getfixturevalue("qtbot")
