"""Paley's malalignment test (MAT), per limb, with the sentence a surgeon would write.

Bands come from the normals file (`mat` section), so a clinic that edits them changes the test and
the flags together.
"""
from __future__ import annotations

from typing import Mapping

from .normals import Band, Normals

UNKNOWN = "unknown"
# Readers differ by about 3.3 mm on MAD (Braun et al. 2023, SEM95; measurements.md): a verdict that
# close to a band edge is said to be borderline.
MAD_READER_ERROR_MM = 3.3

# (mat key, measurement key, bone word for "of ... origin", label)
_COMPONENTS = (
    ("femur", "mldfa_deg", "femoral", "mLDFA"),
    ("tibia", "mpta_deg", "tibial", "MPTA"),
    ("joint", "jlca_deg", "joint-line", "JLCA"),
)
_ORIENTATION = (("hip", "mlpfa_deg", "mLPFA"), ("ankle", "ldta_deg", "LDTA"))
_NAMES = {"femur": "femur", "tibia": "tibia", "joint": "joint"}


def _fmt_deg(value: float) -> str:
    return f"{value:.1f}°"


def mad_phrase(mad_mm: float) -> str:
    """"MAD 24 mm medial" (rounded to the millimetre, the reader's precision)."""
    rounded = round(mad_mm)
    if rounded == 0:
        return "MAD 0 mm"
    return f"MAD {abs(rounded)} mm {'medial' if rounded > 0 else 'lateral'}"


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def malalignment_test(values: Mapping[str, float], normals: Normals, calibrated: bool = True) -> dict[str, str]:
    """The `mat` object of the measure output: verdicts plus a one-sentence `summary`.

    `values` are the limb's measurements (`mad_mm`, `mldfa_deg`, ...); a verdict is "unknown"
    when its measurement is unavailable.
    """
    bands = normals.mat_bands
    mat: dict[str, str] = {}
    mad = values.get("mad_mm")
    if mad is None:
        mat["malalignment"] = UNKNOWN
    else:
        verdict = bands["mad_mm"].classify(mad)
        mat["malalignment"] = "none" if verdict == "normal" else verdict
    for key, mkey, _bone, _label in _COMPONENTS:
        mat[key] = bands[mkey].classify(values[mkey]) if mkey in values else UNKNOWN
    for key, mkey, _label in _ORIENTATION:
        mat[key] = bands[mkey].classify(values[mkey]) if mkey in values else UNKNOWN
    mat["summary"] = _summary(mat, values, calibrated, bands["mad_mm"])
    return mat


def _borderline(mad_mm: float, band: Band) -> bool:
    return min(abs(mad_mm - band.low), abs(mad_mm - band.high)) <= MAD_READER_ERROR_MM


def _summary(mat: dict[str, str], values: Mapping[str, float], calibrated: bool, normals_band: Band) -> str:
    parts: list[str] = []
    mal = mat["malalignment"]
    abnormal = [(key, bone, label) for key, mkey, bone, label in _COMPONENTS if mat[key] not in ("normal", UNKNOWN)]
    normal = [_NAMES[key] for key, *_ in _COMPONENTS if mat[key] == "normal"]
    unknown = [_NAMES[key] for key, *_ in _COMPONENTS if mat[key] == UNKNOWN]

    def value_of(key: str) -> str:
        mkey = next(m for k, m, *_ in _COMPONENTS if k == key)
        label = next(lbl for k, _m, _b, lbl in _COMPONENTS if k == key)
        return f"{label} {_fmt_deg(values[mkey])}"

    tail: list[str] = []
    if normal:
        tail.append(f"{_join(normal)} within normal limits")
    if unknown:
        tail.append(f"{_join(unknown)} not measured")

    if mal in ("varus", "valgus"):
        causes = [(k, b, l) for k, b, l in abnormal if mat[k] == mal]
        opposing = [(k, b, l) for k, b, l in abnormal if mat[k] != mal]
        head = f"{mal.capitalize()} malalignment ({mad_phrase(values['mad_mm'])}"
        if _borderline(values["mad_mm"], normals_band):
            head += f"; borderline, within the ±{MAD_READER_ERROR_MM:g} mm observer error of the normal band"
        head += ")"
        if causes:
            head += f" of {_join([b for _k, b, _l in causes])} origin ({', '.join(value_of(k) for k, *_ in causes)})"
        else:
            head += ", not explained by the femur, tibia or joint line measured here (look for translation or a second level)"
        sentence = head
        extra = []
        if opposing:
            extra.append(
                _join([f"{_NAMES[k]} in {mat[k]} ({value_of(k)})" for k, *_ in opposing]) + " partly compensates"
            )
        extra += tail
        if extra:
            sentence += "; " + "; ".join(extra)
        parts.append(sentence + ".")
    elif mal == "none":
        sentence = f"No malalignment ({mad_phrase(values['mad_mm'])})"
        described = [f"{_NAMES[k]} in {mat[k]} ({value_of(k)})" for k, *_ in abnormal]
        if len(abnormal) == 1:
            sentence += f", although the {described[0]}"
        elif abnormal:
            sentence += f": {_join(described)} offset each other"
        if unknown:
            sentence += f"; {_join(unknown)} not measured"
        parts.append(sentence + ".")
    else:
        reason = "MAD needs calibration" if not calibrated else "MAD not measured"
        sentence = f"Malalignment not assessed ({reason})"
        if abnormal:
            sentence += "; " + _join([f"{_NAMES[k]} in {mat[k]} ({value_of(k)})" for k, *_ in abnormal])
        if tail:
            sentence += "; " + "; ".join(tail)
        parts.append(sentence + ".")

    for key, mkey, label in _ORIENTATION:
        if mat[key] not in ("normal", UNKNOWN):
            parts.append(f"{key.capitalize()} malorientation: {mat[key]} ({label} {_fmt_deg(values[mkey])}).")
    return " ".join(parts)
