"""Normal ranges read from a data file (`resources/normals.json` by default) with their sources.

The code holds no clinical numbers of its own: a clinic may edit the file, and the flags, the table
and the malalignment test follow it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

DEFAULT_NORMALS_PATH = Path(__file__).resolve().parent.parent / "resources" / "normals.json"


class Flag(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class NormalsError(Exception):
    """The normals file cannot be used; `str()` says why."""


@dataclass(frozen=True, slots=True)
class NormalRange:
    key: str
    label: str
    unit: str  # "deg" or "mm"
    mean: float
    low: float
    high: float
    text: str  # how the range is written for a reader, e.g. "87 (85 to 90)"
    source: str
    evidence: str

    def flag(self, value: float) -> Flag:
        if value < self.low:
            return Flag.LOW
        if value > self.high:
            return Flag.HIGH
        return Flag.NORMAL


@dataclass(frozen=True, slots=True)
class Band:
    """A malalignment-test band: below `low` reads as `low_word`, above `high` as `high_word`."""

    low: float
    low_word: str
    high: float
    high_word: str

    def classify(self, value: float) -> str:
        if value < self.low:
            return self.low_word
        if value > self.high:
            return self.high_word
        return "normal"


@dataclass(frozen=True, slots=True)
class Normals:
    ranges: dict[str, NormalRange]
    mat_bands: dict[str, Band]
    path: Path

    def get(self, key: str) -> NormalRange | None:
        return self.ranges.get(key)

    def flag(self, key: str, value: float) -> Flag | None:
        rng = self.ranges.get(key)
        return rng.flag(value) if rng else None


def _number(entry: dict[str, Any], key: str, where: str) -> float:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise NormalsError(f"{where}: '{key}' must be a number")
    return float(value)


def _band(entry: Any, where: str) -> Band:
    if not isinstance(entry, dict):
        raise NormalsError(f"{where} must be an object")
    lows = [k for k in entry if k.endswith("_below")]
    highs = [k for k in entry if k.endswith("_above")]
    if len(lows) != 1 or len(highs) != 1:
        raise NormalsError(f"{where} needs one '<word>_below' and one '<word>_above' bound")
    low_key, high_key = lows[0], highs[0]
    band = Band(_number(entry, low_key, where), low_key[: -len("_below")],
                _number(entry, high_key, where), high_key[: -len("_above")])
    if band.low > band.high:
        raise NormalsError(f"{where}: the lower bound is above the upper bound")
    return band


def load_normals(path: str | Path | None = None) -> Normals:
    """Read a normals file; raises NormalsError naming what is wrong."""
    path = Path(path) if path is not None else DEFAULT_NORMALS_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise NormalsError(f"normal values file {path} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise NormalsError(f"normal values file {path} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(data, dict) or data.get("format") != "deformity-normals/1":
        raise NormalsError(f"normal values file {path} is not a 'deformity-normals/1' file")
    ranges: dict[str, NormalRange] = {}
    for key, entry in (data.get("measurements") or {}).items():
        where = f"normals '{key}'"
        if not isinstance(entry, dict):
            raise NormalsError(f"{where} must be an object")
        rng = NormalRange(
            key=key,
            label=str(entry.get("label", key)),
            unit=str(entry.get("unit", "deg")),
            mean=_number(entry, "mean", where),
            low=_number(entry, "low", where),
            high=_number(entry, "high", where),
            text=str(entry.get("text", "")),
            source=str(entry.get("source", "")),
            evidence=str(entry.get("evidence", "")),
        )
        if rng.low > rng.high:
            raise NormalsError(f"{where}: 'low' is above 'high'")
        if not rng.text:
            rng = NormalRange(**{**{f: getattr(rng, f) for f in NormalRange.__slots__},
                                 "text": f"{rng.low:g} to {rng.high:g}"})
        ranges[key] = rng
    bands = {key: _band(entry, f"malalignment band '{key}'")
             for key, entry in (data.get("mat") or {}).items() if key != "note"}
    for needed in ("mad_mm", "mldfa_deg", "mpta_deg", "jlca_deg", "mlpfa_deg", "ldta_deg"):
        if needed not in bands:
            raise NormalsError(f"normal values file {path} has no malalignment band for '{needed}'")
    return Normals(ranges, bands, path)


_default: Normals | None = None


def default_normals() -> Normals:
    """The bundled normals, read once."""
    global _default
    if _default is None:
        _default = load_normals()
    return _default
