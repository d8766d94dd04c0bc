"""The worked cases of shared/spec/measurements.md, placed on a film in any orientation and spacing."""
from __future__ import annotations

from typing import Iterable

from measurements.case import Case

# Leg frame, mm, origin at K, lat > 0 lateral, sup > 0 proximal (measurements.md, "Worked cases").
COMMON = {
    "knee_center": (0.0, 0.0),
    "femoral_head_center": (22.5045, 429.4107),
    "greater_trochanter_tip": (82.4222, 426.2705),
    "femoral_condyle_medial": (-35.0, 0.0),
    "femoral_condyle_lateral": (35.0, 0.0),
    "tibial_plateau_medial": (-35.0, -1.0),
    "tibial_plateau_lateral": (35.0, -1.0),
}
NORMAL = {
    **COMMON,
    "ankle_center": (-19.3643, -369.4929),
    "plafond_lateral": (-4.3734, -370.0164),
    "plafond_medial": (-34.3552, -368.9694),
}
TIBIAL_VARUS = {
    **COMMON,
    "ankle_center": (-51.4940, -366.3992),
    "plafond_lateral": (-36.6059, -368.2272),
    "plafond_medial": (-66.3822, -364.5711),
}
NORMAL_EXPECTED = {"mlpfa_deg": 90.0, "mldfa_deg": 87.0, "mpta_deg": 87.0, "ldta_deg": 89.0,
                   "jlca_deg": 0.0, "mfta_deg": 0.0, "mad_mm": 0.0}
VARUS_EXPECTED = {"mpta_deg": 82.0, "mldfa_deg": 87.0, "mfta_deg": 5.0, "mad_mm": 17.35}


def to_image(frame_pts: dict[str, tuple[float, float]], side: str, spacing=(0.15, 0.15),
             origin_mm=(190.0, 500.0), flipped: bool = False) -> dict[str, list[float]]:
    """Map leg-frame mm to image pixels: X = -lat for a right limb on a standard AP film, X = +lat for
    a left limb (reversed when `flipped`), Y = -sup; then divide by the (row, column) spacing."""
    sign = -1.0 if side == "right" else 1.0
    if flipped:
        sign = -sign
    row_mm, col_mm = spacing
    return {
        name: [(origin_mm[0] + sign * lat) / col_mm, (origin_mm[1] - sup) / row_mm]
        for name, (lat, sup) in frame_pts.items()
    }


def make_case(limbs: dict[str, dict[str, tuple[float, float]]], spacing=(0.15, 0.15), flipped: bool = False,
              calibrated: bool = True, origins: dict[str, tuple[float, float]] | None = None) -> Case:
    origins = origins or {"right": (120.0, 500.0), "left": (260.0, 500.0)}
    if flipped:
        origins = {"right": origins["left"], "left": origins["right"]}
    data = {
        "format": "deformity-case/1",
        "image": {"path": "film.dcm", "rows": 7000, "columns": 2500},
        "pixel_spacing_mm": list(spacing) if calibrated else None,
        "calibration": {"source": "PixelSpacing" if calibrated else "none"},
        "patient_orientation": ["R", "F"] if flipped else ["L", "F"],
        "limbs": {
            side: {"landmarks": to_image(pts, side, spacing if calibrated else (1.0, 1.0), origins[side], flipped)}
            for side, pts in limbs.items()
        },
    }
    return Case.from_dict(data)


def without(pts: dict, names: Iterable[str]) -> dict:
    names = set(names)
    return {k: v for k, v in pts.items() if k not in names}
