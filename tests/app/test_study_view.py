"""The agreement study view through its widgets: a folder of readers' cases in, the numbers of
`measurements.agreement.agreement` on the same folder out, Bland–Altman plots, and the PDF."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog

from deformity_app.gui.practice import install_practice
from deformity_app.gui.study_view import StudyView
from deformity_app.teaching_bank import ensure_bank, list_keys, read_key
from measurements.agreement import ICC_FORMS, agreement
from measurements.case import Case, save_case

from .conftest import screenshot
from .table_checks import assert_cells_fit

KEYS = ("femoral_valgus", "proximal_tibial_varus", "two_level")


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    return ensure_bank(tmp_path_factory.mktemp("bank"), pixel_spacing_mm=0.6)


def _noisy(case: Case, rng: np.random.Generator, sd_px: float) -> Case:
    out = case.copy()
    for limb in out.limbs.values():
        limb.landmarks = {n: (x + rng.normal(0, sd_px), y + rng.normal(0, sd_px))
                          for n, (x, y) in limb.landmarks.items()}
    return out


def study_folder(bank: Path, folder: Path) -> Path:
    """Three readers measure three keys' films (both limbs: six subjects) with landmark noise of
    1.5 pixels; reader A reads them twice."""
    rng = np.random.default_rng(11)
    summaries = {k.id: k for k in list_keys(bank)}
    for key_id in KEYS:
        key, summary = read_key(summaries[key_id].path)
        for reader, sessions in (("A", (1, 2)), ("B", (1,)), ("C", (1,))):
            for session in sessions:
                case = _noisy(key, rng, 1.5)
                case.extra = {"reader": {"name": reader, "session": session}}
                case.image = {**case.image, "path": summary.film_path.name}
                (folder / f"{reader}{session}").mkdir(parents=True, exist_ok=True)
                save_case(case, folder / f"{reader}{session}" / f"{key_id}.case.json")
    (folder / "notes.case.json").write_text('{"format": "deformity-case/1", "limbs": {}}')  # no reader: left out
    return folder


def _limit(value: float) -> str:
    return "−∞" if value == -math.inf else f"{value:.2f}"


def _shown_interval(cell: str) -> tuple[float, float]:
    """The two limits of "0.431 [−2.15, 0.92]" as numbers (−∞ as -inf)."""
    inside = cell[cell.index("[") + 1: cell.index("]")]
    return tuple(-math.inf if t.strip() == "−∞" else float(t.strip().replace("−", "-")) for t in inside.split(","))


def test_the_view_shows_the_agreement_of_the_folder(qtbot, window, bank, monkeypatch, tmp_path):
    folder = study_folder(bank, tmp_path / "study")
    expected = agreement(folder)
    practice = install_practice(window)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    view = practice.open_agreement_study()  # Practice > Agreement study… asks for the folder
    qtbot.waitUntil(lambda: view.result is not None, timeout=30000)
    assert view.icc_table.rowCount() == len(expected.measurements) > 5
    headers = [view.icc_table.horizontalHeaderItem(c).text() for c in range(view.icc_table.columnCount())]
    assert headers[2] == "ICC(A,1) [95 % CI]"  # the headline first
    for key, m in expected.measurements.items():
        row = view.row_of(key)
        assert row >= 0
        for form in ICC_FORMS:
            cell = view.icc_table.item(row, headers.index(f"{form} [95 % CI]")).text()
            if m.icc is None or math.isnan(m.icc.icc[form]):
                assert cell == "—"
                continue
            lo, hi = m.icc.ci95[form]
            assert cell == f"{m.icc.icc[form]:.3f} [{_limit(lo)}, {_limit(hi)}]".replace("-", "−"), (key, form)
            shown_lo, shown_hi = _shown_interval(cell)
            assert shown_lo <= shown_hi, (key, form, cell)  # never an inverted interval
        sem = view.icc_table.item(row, headers.index("SEM")).text()
        assert sem.startswith(f"{m.sem:.2f}")
    assert "1 file left out" in view.summary.text() and "notes.case.json" in view.skipped_label.text()
    # readers this noisy give negative ICCs for some measurements: the view says what they mean
    assert any(v < 0 for m in expected.measurements.values() if m.icc is not None for v in m.icc.icc.values())
    assert view.values_note.isVisible() and "below 0" in view.values_note.text()
    qtbot.wait(50)
    assert_cells_fit(view.icc_table)  # no number cut short at the table's right edge

    # choosing MPTA shows its three Bland–Altman pairs and reader A's intra-reader ICC
    view.icc_table.selectRow(view.row_of("mpta_deg"))
    m = expected.measurements["mpta_deg"]
    assert len(view.ba_plots) == 3 == len(m.bland_altman)
    assert [p.ba.bias for p in view.ba_plots] == [pytest.approx(ba.bias) for ba in m.bland_altman.values()]
    assert [(p.first, p.second) for p in view.ba_plots] == [("A", "B"), ("A", "C"), ("B", "C")]
    assert view.ba_table.item(0, 2).text() == f"{m.bland_altman['A|B'].bias:.2f}°".replace("-", "−")
    assert view.intra_table.item(0, 0).text() == "A"
    assert view.intra_table.item(0, 3).text().startswith(f"{m.intra['A'].icc_a1:.3f}")
    qtbot.wait(50)
    screenshot(view, "practice-4-agreement-study")

    pdf = tmp_path / "agreement.pdf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(pdf), ""))
    with qtbot.waitSignal(view.pdfWritten, timeout=30000):
        view.pdf_button.click()
    assert pdf.read_bytes().startswith(b"%PDF")


def test_a_folder_without_readers_is_refused(qtbot, tmp_path, no_modal_dialogs):
    folder = tmp_path / "nobody"
    folder.mkdir()
    (folder / "a.case.json").write_text('{"format": "deformity-case/1", "limbs": {}}')
    view = StudyView()
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.failed, timeout=30000) as blocker:
        view.load(folder)
    assert "no case file names a reader" in blocker.args[0]
    assert view.result is None and not view.pdf_button.isEnabled()
    assert no_modal_dialogs and no_modal_dialogs[-1][0] == "warning"
