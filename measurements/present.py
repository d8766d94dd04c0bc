"""How values are written for people: labels, units, precision and normal ranges.

One place, so that the command line, the measurement panel and the PDF report say the same thing.
Precision follows measurements.md ("Reliability"): 0.1 degree and 1 mm; smaller differences are
within observer error.
"""
from __future__ import annotations

from .measure import LimbResult
from .normals import Normals, default_normals

LABELS: dict[str, str] = {
    "mad_mm": "MAD",
    "mfta_deg": "mFTA",
    "hka_deg": "HKA",
    "mlpfa_deg": "mLPFA",
    "ampfa_deg": "aMPFA",
    "nsa_deg": "NSA",
    "mldfa_deg": "mLDFA",
    "aldfa_deg": "aLDFA",
    "ama_deg": "AMA",
    "mpta_deg": "MPTA",
    "ldta_deg": "LDTA",
    "jlca_deg": "JLCA",
    "mechanical_axis_length_mm": "Mechanical axis length",
    "femur_length_mm": "Femur length",
    "tibia_length_mm": "Tibia length",
    "limb_length_mm": "Limb length",
}

DESCRIPTIONS: dict[str, str] = {
    "mad_mm": "mechanical axis deviation",
    "mfta_deg": "mechanical femorotibial angle (varus +)",
    "hka_deg": "hip-knee-ankle angle",
    "mlpfa_deg": "mechanical lateral proximal femoral angle",
    "ampfa_deg": "anatomic medial proximal femoral angle",
    "nsa_deg": "neck-shaft angle",
    "mldfa_deg": "mechanical lateral distal femoral angle",
    "aldfa_deg": "anatomic lateral distal femoral angle",
    "ama_deg": "anatomic-mechanical angle",
    "mpta_deg": "medial proximal tibial angle",
    "ldta_deg": "lateral distal tibial angle",
    "jlca_deg": "joint line convergence angle (medial +)",
    "mechanical_axis_length_mm": "hip centre to ankle centre",
    "femur_length_mm": "hip centre to knee centre",
    "tibia_length_mm": "knee centre to ankle centre",
    "limb_length_mm": "femoral head to ankle centre",
}

TABLE_KEYS: tuple[str, ...] = tuple(LABELS)


def format_value(key: str, result: LimbResult) -> str:
    """The value as a reader sees it ("87.0°", "17 mm medial", "5334 px"), or "" when unavailable."""
    if key.endswith("_deg"):
        value = result.values.get(key)
        return "" if value is None else f"{value + 0.0:.1f}°".replace("-0.0°", "0.0°")
    value = result.values.get(key)
    unit = "mm"
    if value is None:
        value = result.values.get(key[:-3] + "_px")
        unit = "px"
        if value is None:
            return ""
    if key == "mad_mm":
        rounded = round(value)
        if rounded == 0:
            return f"0 {unit}"
        return f"{abs(rounded)} {unit} {'medial' if rounded > 0 else 'lateral'}"
    return f"{value:.0f} {unit}"


def normal_text(key: str, normals: Normals | None = None) -> str:
    """The normal range as written in the normals file, e.g. "87 (85 to 90)", or "—" when it has none."""
    rng = (normals or default_normals()).get(key)
    if rng is None:
        return "—"
    return rng.text + ("" if rng.unit == "deg" else "")


def flag_text(key: str, result: LimbResult) -> str:
    flag = result.flags.get(key)
    if flag is None:
        return ""
    return "" if str(flag) == "normal" else str(flag).upper()


# What each calibration source means for the lengths shown; a case file may carry its own caveat
# (calibration.caveat), which then wins.
CALIBRATION_CAVEATS: dict[str, str] = {
    "PixelSpacing": "spacing from the film (PixelSpacing); whether it was corrected for magnification "
    "is not always stated",
    "ImagerPixelSpacing": "detector plane: anatomy appears about 10-20% larger than life",
    "ImagerPixelSpacing+ERMF": "detector spacing corrected by the estimated magnification factor",
    "marker": "calibrated on a marker of known size placed at the level of the bone",
    "manual": "calibrated on a length typed by the user",
    "none": "uncalibrated: angles only; lengths in pixels",
}


def calibration_text(source: str, spacing: tuple[float, float] | None, caveat: str = "") -> str:
    """"PixelSpacing 0.150 x 0.150 mm (row x column): <caveat>" for headers and reports."""
    caveat = caveat or CALIBRATION_CAVEATS.get(source, "")
    if spacing is None:
        return f"none ({caveat})" if caveat else "none"
    text = f"{source}, {spacing[0]:.4g} x {spacing[1]:.4g} mm per pixel (row x column)"
    return f"{text}: {caveat}" if caveat else text


def normal_short(key: str, normals: Normals | None = None) -> str:
    """The normal range in a few characters for narrow tables: "85–90°", "1–15 mm medial"."""
    rng = (normals or default_normals()).get(key)
    if rng is None:
        return "—"
    if key == "mad_mm":
        return f"{rng.low:g}–{rng.high:g} mm medial"
    unit = "°" if rng.unit == "deg" else f" {rng.unit}"
    return f"{rng.low:g}–{rng.high:g}{unit}"
