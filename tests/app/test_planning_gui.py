"""Planning mode through the real widgets: draw a cut, drag the hinge, type an angle, pick a target,
undo and redo, save and reopen; the numbers are those of measurements.planning on the same case."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog

from measurements.case import Case, load_case
from measurements.landmarks import Side
from measurements.planning import find_cora, simulate

from .conftest import assert_screen_matches_a_full_repaint, open_and_wait, screenshot


@pytest.fixture
def planned(qtbot, window, small_demo, ground_truth):
    film, case_path = small_demo
    open_and_wait(qtbot, window, film, Case.from_dict(ground_truth), case_path)
    window.planning_action.trigger()  # View > Planning mode
    assert window.planning.active and window.planning_dock.isVisible()
    return window


def test_cut_hinge_angle_target_undo_and_save(qtbot, planned, tmp_path, monkeypatch):
    window = planned
    doc, view = window.doc, window.view
    cora = find_cora(doc.case, Side.RIGHT, "tibia")
    assert cora.direction == "varus" and cora.angle_deg == pytest.approx(8.0, abs=0.05)
    cx, cy = cora.cora_px
    # the planning text shows the CORA the engine found
    assert f"{abs(cora.angle_deg):.1f}° varus" in window.planning.panel.cora_text.text()

    # draw the cut with two clicks across the tibia at the CORA's level
    window.planning.panel.new_plan.click()
    view.set_zoom(1.0)
    view.centerOn(cx, cy)
    for x in (cx - 60, cx + 60):
        qtbot.mouseClick(view.viewport(), Qt.LeftButton, Qt.NoModifier, view.map_from_image(x, cy).toPoint())
    plans = doc.case.limbs[Side.RIGHT].extra["plans"]
    assert len(plans) == 1 and plans[0]["bone"] == "tibia"
    assert doc.undo_stack.undoText().startswith("Add right plan")
    sim = window.planning.last_simulation
    expected = simulate(doc.case, Side.RIGHT, plans[0])
    assert sim.rule == expected.rule == 1  # the hinge went onto the bisector, the cut through the CORA
    assert sim.predicted["mpta_deg"] == pytest.approx(expected.predicted["mpta_deg"])
    shown = {window.planning.panel.table.item(r, 0).text(): window.planning.panel.table.item(r, 2).text()
             for r in range(window.planning.panel.table.rowCount())}
    assert shown["MPTA"] == f"{expected.predicted['mpta_deg']:.1f}°"
    screenshot(window, "4-planning-rule1")

    # drag the hinge to the cut's lateral end (it snaps there): one undo step for the whole drag
    lateral_end = min(plans[0]["osteotomy_px"], key=lambda p: p[0])  # right limb: lateral is the smaller x
    start = view.map_from_image(*plans[0]["hinge_px"]).toPoint()
    end = view.map_from_image(lateral_end[0] + 2, lateral_end[1] + 1).toPoint()
    qtbot.mousePress(view.viewport(), Qt.LeftButton, Qt.NoModifier, start)
    for i in range(1, 6):
        qtbot.mouseMove(view.viewport(), start + (end - start) * i / 5)
        qtbot.wait(5)  # Qt paints each step as it does for a user
    qtbot.mouseRelease(view.viewport(), Qt.LeftButton, Qt.NoModifier, end)
    # what was painted step by step (only what changed) is what a repaint from scratch gives
    assert_screen_matches_a_full_repaint(qtbot, view.viewport())
    hinge = doc.case.limbs[Side.RIGHT].extra["plans"][0]["hinge_px"]
    assert hinge == pytest.approx(lateral_end)  # snapped exactly onto the end
    # during the drag the panel lags by up to 80 ms; at release it shows the moved hinge's prediction
    dragged = simulate(doc.case, Side.RIGHT, doc.case.limbs[Side.RIGHT].extra["plans"][0])
    shown = {window.planning.panel.table.item(r, 0).text(): window.planning.panel.table.item(r, 2).text()
             for r in range(window.planning.panel.table.rowCount())}
    assert shown["MPTA"] == f"{dragged.predicted['mpta_deg']:.1f}°"
    assert f"rule {dragged.rule}" in window.planning.panel.outcome.text()
    count_after_drag = doc.undo_stack.count()
    assert count_after_drag == 2

    # pick the Fujisawa target: the engine solves the angle; an opening wedge at the medial side
    window.planning.panel.fujisawa.click()
    plan = doc.case.limbs[Side.RIGHT].extra["plans"][0]
    assert plan["target"] == {"wbl_pct": 62.5} and "angle_deg" not in plan
    sim = window.planning.last_simulation
    assert sim.solved and sim.predicted["wbl_pct"] == pytest.approx(62.5, abs=0.02)
    assert sim.wedge == "opening" and sim.opening["medial"] > 5.0
    screenshot(window, "5-planning-fujisawa")

    # type an angle instead
    window.planning.panel.mode_angle.click()
    window.planning.panel.angle.setValue(6.0)
    plan = doc.case.limbs[Side.RIGHT].extra["plans"][0]
    assert plan["angle_deg"] == pytest.approx(6.0) and "target" not in plan

    # undo back to the Fujisawa plan, then to the dragged hinge, then redo all
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert doc.case.limbs[Side.RIGHT].extra["plans"][0].get("target") == {"wbl_pct": 62.5}
    while doc.undo_stack.count() > 0 and doc.undo_stack.index() > count_after_drag - 1:
        window.undo_action.trigger()
    assert doc.case.limbs[Side.RIGHT].extra["plans"][0]["hinge_px"] != pytest.approx(lateral_end)
    while doc.undo_stack.canRedo():
        window.redo_action.trigger()
    assert doc.case.limbs[Side.RIGHT].extra["plans"][0]["angle_deg"] == pytest.approx(6.0)

    # save and reopen: the plan comes back
    target = tmp_path / "planned.case.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    assert window.save_as()
    saved = load_case(target)
    assert saved.limbs[Side.RIGHT].extra["plans"] == doc.case.limbs[Side.RIGHT].extra["plans"]
    window.open_path(target)
    qtbot.waitUntil(lambda: window.doc.case_path == target, timeout=60000)
    assert window.planning.current_plan()["angle_deg"] == pytest.approx(6.0)


def test_reference_angle_edit_is_undoable(qtbot, planned):
    window = planned
    panel = window.planning.panel
    panel.ref_spins["mpta_deg"].setValue(88.0)
    limb = window.doc.case.limbs[Side.RIGHT]
    assert limb.extra["reference_deg"] == {"mpta_deg": 88.0}
    assert panel.ref_sources["mpta_deg"].text() == "user"
    window.undo_action.trigger()
    assert "reference_deg" not in window.doc.case.limbs[Side.RIGHT].extra
    assert panel.ref_sources["mpta_deg"].text() == "contralateral"
