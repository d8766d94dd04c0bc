"""Growth prediction by the multiplier method (planning.md, 'Growth: the multiplier').

The lower-limb multiplier `M` of Paley et al. (J Bone Joint Surg Am 2000;82:1432) is read from
`resources/multiplier.json` with its source; the code holds no table of its own. For a congenital
(proportional) discrepancy the discrepancy at maturity is the current one times `M`, and a limb's
remaining growth is its length times `M - 1`. Developmental discrepancies need two films (growth
inhibition) and are not predicted here.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_MULTIPLIER_PATH = Path(__file__).resolve().parent.parent / "resources" / "multiplier.json"
SEXES: tuple[str, ...] = ("male", "female")
ASSUMPTION = "congenital (proportional) discrepancy"
ASSUMPTION_NOTE = (
    "Assumes a congenital (proportional) discrepancy: the short limb grows at a fixed proportion of the "
    "long one. A developmental discrepancy (growth arrest, infection, tumour) needs the growth inhibition "
    "from two films over time and belongs to serial follow-up."
)


class GrowthError(ValueError):
    """A patient or table that the multiplier method cannot use; `str()` says why in plain words."""


@dataclass(frozen=True, slots=True)
class MultiplierTable:
    """Multipliers by sex at tabulated ages (years), with the age from which `M` is 1.0."""

    ages_years: tuple[float, ...]
    values: dict[str, tuple[float, ...]]  # "male" / "female" -> one multiplier per tabulated age
    maturity_age_years: dict[str, float]
    source: str
    path: Path

    def multiplier(self, age_years: float, sex: str) -> float:
        """`M` at `age_years` for `sex` ("male" or "female"): linear between tabulated ages, 1.0 from
        maturity on. Raises GrowthError for a negative or non-finite age or an unknown sex."""
        sex = _sex(sex)
        if isinstance(age_years, bool) or not isinstance(age_years, (int, float)) or not math.isfinite(age_years):
            raise GrowthError(f"the patient's age must be a number of years (got {age_years!r})")
        if age_years < 0:
            raise GrowthError(f"the patient's age cannot be negative (got {age_years:g} years)")
        if age_years >= self.maturity_age_years[sex]:
            return 1.0
        return float(np.interp(float(age_years), self.ages_years, self.values[sex]))


def _sex(sex: Any) -> str:
    if sex not in SEXES:
        raise GrowthError(f"the patient's sex must be 'male' or 'female' (got {sex!r})")
    return str(sex)


def load_multiplier_table(path: str | Path | None = None) -> MultiplierTable:
    """Read and check a multiplier file (format `deformity-multiplier/1`); raises GrowthError."""
    path = Path(path) if path is not None else DEFAULT_MULTIPLIER_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise GrowthError(f"multiplier file {path} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise GrowthError(f"multiplier file {path} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(data, dict) or data.get("format") != "deformity-multiplier/1":
        raise GrowthError(f"multiplier file {path} is not a 'deformity-multiplier/1' file")

    def numbers(key: str) -> tuple[float, ...]:
        values = data.get(key)
        if not isinstance(values, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values
        ):
            raise GrowthError(f"multiplier file {path}: '{key}' must be a list of numbers")
        return tuple(float(v) for v in values)

    ages = numbers("ages_years")
    if len(ages) < 2 or ages[0] != 0.0 or any(b <= a for a, b in zip(ages, ages[1:])):
        raise GrowthError(f"multiplier file {path}: 'ages_years' must rise strictly from 0")
    values = {sex: numbers(sex) for sex in SEXES}
    maturity = data.get("maturity_age_years") or {}
    for sex in SEXES:
        if len(values[sex]) != len(ages):
            raise GrowthError(f"multiplier file {path}: '{sex}' needs one value per age")
        if any(v < 1.0 for v in values[sex]) or any(b > a for a, b in zip(values[sex], values[sex][1:])):
            raise GrowthError(f"multiplier file {path}: '{sex}' multipliers must fall with age and stay >= 1")
        m = maturity.get(sex)
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 < m <= ages[-1]:
            raise GrowthError(f"multiplier file {path}: 'maturity_age_years.{sex}' must be a tabulated age range")
    return MultiplierTable(ages, values, {s: float(maturity[s]) for s in SEXES}, str(data.get("source", "")), path)


_default: MultiplierTable | None = None


def default_multiplier_table() -> MultiplierTable:
    """The bundled table, read once."""
    global _default
    if _default is None:
        _default = load_multiplier_table()
    return _default


def multiplier(age_years: float, sex: str, table: MultiplierTable | None = None) -> float:
    """The lower-limb multiplier for a child of `age_years` (chronological) and `sex` ("male"/"female")."""
    return (table or default_multiplier_table()).multiplier(age_years, sex)


@dataclass(frozen=True, slots=True)
class Patient:
    """What the multiplier needs about the patient (case file key `patient`); either part may be missing."""

    sex: str | None = None
    age_years: float | None = None


def parse_patient(data: Any) -> Patient:
    """The case's `patient` object; raises GrowthError for a malformed one (wrong types, negative age).

    Missing keys are allowed (growth is then unavailable with the reason).
    """
    if data is None:
        return Patient()
    if not isinstance(data, dict):
        raise GrowthError("'patient' must be an object such as {\"sex\": \"female\", \"age_years\": 8.25}")
    sex = data.get("sex")
    if sex is not None:
        _sex(sex)
    age = data.get("age_years")
    if age is not None:
        if isinstance(age, bool) or not isinstance(age, (int, float)) or not math.isfinite(age):
            raise GrowthError(f"the patient's age_years must be a number (got {age!r})")
        if age < 0:
            raise GrowthError(f"the patient's age cannot be negative (got {age:g} years)")
        age = float(age)
    return Patient(sex, age)


@dataclass(frozen=True, slots=True)
class Growth:
    """Prediction at maturity for a congenital discrepancy; lengths in mm, `lld` = right - left."""

    multiplier: float
    lld_mm: float
    lld_at_maturity_mm: float
    growth_remaining_mm: dict[str, float]  # "right" / "left"
    sex: str
    age_years: float

    def to_json(self, decimals: int = 3) -> dict[str, Any]:
        def r(x: float) -> float:
            return round(x, decimals) + 0.0

        return {
            "multiplier": r(self.multiplier),
            "lld_mm": r(self.lld_mm),
            "lld_at_maturity_mm": r(self.lld_at_maturity_mm),
            "growth_remaining_mm": {k: r(v) for k, v in self.growth_remaining_mm.items()},
            "assumption": ASSUMPTION,
            "note": ASSUMPTION_NOTE,
            "sex": self.sex,
            "age_years": r(self.age_years),
        }


def predict_growth(right_length_mm: float, left_length_mm: float, age_years: float, sex: str,
                   table: MultiplierTable | None = None) -> Growth:
    """Discrepancy at maturity and remaining growth of each limb (planning.md), assuming a congenital
    (proportional) discrepancy. Lengths measured on the same basis, in mm."""
    m = multiplier(age_years, sex, table)
    lld = right_length_mm - left_length_mm
    return Growth(
        multiplier=m,
        lld_mm=lld,
        lld_at_maturity_mm=lld * m,
        growth_remaining_mm={"right": right_length_mm * (m - 1.0), "left": left_length_mm * (m - 1.0)},
        sex=sex,
        age_years=float(age_years),
    )


# --- from a film's metadata ------------------------------------------------------------------------

_DICOM_SEX = {"M": "male", "F": "female"}
_DATE = re.compile(r"^\s*(\d{4})[.\-]?(\d{2})[.\-]?(\d{2})\s*$")  # DICOM DA; "YYYY.MM.DD" is the ACR-NEMA form


def _parse_date(text: Any) -> _dt.date | None:
    if not isinstance(text, str):
        return None
    match = _DATE.match(text)
    if not match:
        return None
    try:
        return _dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _birthday(birth: _dt.date, year: int) -> _dt.date:
    try:
        return birth.replace(year=year)
    except ValueError:  # born on 29 February: the birthday is 28 February in common years
        return _dt.date(year, 2, 28)


def age_in_years(birth: _dt.date, on: _dt.date) -> float:
    """Age on `on` in years: whole years since birth plus the elapsed fraction of the current year of life."""
    if on < birth:
        raise GrowthError("the study date is before the birth date")
    years = on.year - birth.year
    if _birthday(birth, on.year) > on:
        years -= 1
    last = _birthday(birth, birth.year + years)
    following = _birthday(birth, birth.year + years + 1)
    return years + (on - last).days / (following - last).days


def patient_from_dicom(sex: str | None, birth_date: str | None, study_date: str | None) -> dict[str, Any] | None:
    """The case's `patient` object from DICOM PatientSex ('M'/'F'), PatientBirthDate and StudyDate
    (YYYYMMDD). Whatever cannot be read is left out (sex 'O' or empty, a missing or impossible date, a
    study before birth); None when neither the sex nor the age is known.

    >>> patient_from_dicom("F", "20100615", "20180615")
    {'sex': 'female', 'age_years': 8.0}
    >>> patient_from_dicom("O", "", "20180615") is None
    True
    """
    out: dict[str, Any] = {}
    word = _DICOM_SEX.get((sex or "").strip().upper())
    if word:
        out["sex"] = word
    birth, study = _parse_date(birth_date), _parse_date(study_date)
    if birth is not None and study is not None and study >= birth:
        out["age_years"] = round(age_in_years(birth, study), 4)
    return out or None
