"""The fellow's practice history: every submitted attempt, kept as one JSON file (no Qt).

Attempts live in ``user_dir("data") / "attempts"``, one file per attempt written atomically, so
that a crash never loses earlier ones and two windows never overwrite each other. The history is
read back for the progress view: the score over time, and the mean absolute error per
measurement and per landmark, per attempt or over a period; it can be exported as CSV.

    >>> record = save_attempt(attempt, key, score_attempt(attempt, key), key_path=path)  # doctest: +SKIP
    >>> series = error_series(load_history(), "measurement")["mpta_deg"]                 # doctest: +SKIP
"""
from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

from measurements.case import Case, atomic_write_text
from measurements.scoring import AttemptScore

log = logging.getLogger(__name__)

ATTEMPT_FORMAT = "deformity-attempt/1"
ATTEMPT_SUFFIX = ".attempt.json"
Kind = Literal["measurement", "landmark"]


def attempts_dir() -> Path:
    """``user_dir("data") / "attempts"``, created when missing."""
    from .paths import user_dir

    path = user_dir("data") / "attempts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One submitted attempt as stored. `score` is the `score --json` object."""

    path: Path
    id: str
    submitted_at: _dt.datetime  # timezone-aware (UTC)
    key_id: str
    key_title: str
    key_file: str
    reader: str
    seconds: float | None
    score: Mapping[str, Any]
    attempt: Mapping[str, Any]  # the attempt's case-file object

    @property
    def score_pct(self) -> float | None:
        value = self.score.get("score_pct")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def unit(self) -> str:
        return str(self.score.get("unit", "mm"))

    def errors(self, kind: Kind) -> dict[str, list[tuple[float, bool]]]:
        """(|error|, passed) per landmark or measurement name, one entry per limb that has it.

        Landmarks the attempt did not place and measurements it could not compute are left out
        (they have no error); they count as failures in `passed_fraction`."""
        out: dict[str, list[tuple[float, bool]]] = {}
        if kind == "landmark":
            field_name = f"error_{self.unit}"
            for limb in (self.score.get("landmarks") or {}).values():
                for name, item in limb.items():
                    value = item.get(field_name)
                    if isinstance(value, (int, float)):
                        out.setdefault(name, []).append((abs(float(value)), bool(item.get("pass"))))
        else:
            for limb in (self.score.get("measurements") or {}).values():
                for name, item in limb.items():
                    value = item.get("error")
                    if isinstance(value, (int, float)):
                        out.setdefault(name, []).append((abs(float(value)), bool(item.get("pass"))))
        return out

    def outcomes(self, kind: Kind) -> dict[str, list[bool]]:
        """Pass or fail per name and limb, unplaced or uncomputable ones included."""
        section = "landmarks" if kind == "landmark" else "measurements"
        out: dict[str, list[bool]] = {}
        for limb in (self.score.get(section) or {}).values():
            for name, item in limb.items():
                out.setdefault(name, []).append(bool(item.get("pass")))
        return out


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _key_identity(key: Case, key_path: Path | None) -> tuple[str, str, str]:
    data = key.extra.get("key")
    data = data if isinstance(data, Mapping) else {}
    file_id = ""
    if key_path is not None:
        name = Path(key_path).name
        file_id = name[: -len(".case.json")] if name.endswith(".case.json") else Path(key_path).stem
    key_id = str(data.get("id") or key.image.get("sop_instance_uid") or file_id or "key")
    title = str(data.get("title") or file_id or key_id)
    return key_id, title, str(key_path) if key_path is not None else ""


def save_attempt(attempt: Case, key: Case, score: AttemptScore, *, key_path: str | os.PathLike[str] | None = None,
                 reader: str = "", seconds: float | None = None, submitted_at: _dt.datetime | None = None,
                 folder: str | os.PathLike[str] | None = None) -> AttemptRecord:
    """Store a submitted attempt with its score; returns the record as it will be read back.

    `folder` defaults to :func:`attempts_dir`. The file is ``<UTC time>-<id>.attempt.json``, written
    atomically; an existing file is never overwritten.
    """
    folder = Path(folder) if folder is not None else attempts_dir()
    folder.mkdir(parents=True, exist_ok=True)
    when = (submitted_at or _now()).astimezone(_dt.timezone.utc)
    key_id, key_title, key_file = _key_identity(key, Path(key_path) if key_path is not None else None)
    attempt_json = attempt.to_dict()
    score_json = score.to_json()
    digest = hashlib.sha256(json.dumps([when.isoformat(), key_id, attempt_json], sort_keys=True)
                            .encode("utf-8")).hexdigest()[:8]
    stamp = when.strftime("%Y%m%dT%H%M%S") + f"{when.microsecond // 1000:03d}Z"
    attempt_id = f"{stamp}-{digest}"
    path = folder / f"{attempt_id}{ATTEMPT_SUFFIX}"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{attempt_id}-{n}{ATTEMPT_SUFFIX}"
    data = {
        "format": ATTEMPT_FORMAT,
        "id": path.name[: -len(ATTEMPT_SUFFIX)],
        "submitted_at": when.isoformat(),
        "reader": reader,
        "seconds": seconds,
        "key": {"id": key_id, "title": key_title, "file": key_file,
                "sop_instance_uid": str(key.image.get("sop_instance_uid") or "")},
        "score": score_json,
        "attempt": attempt_json,
    }
    atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return _record(path, data)


def _record(path: Path, data: Mapping[str, Any]) -> AttemptRecord:
    if data.get("format") != ATTEMPT_FORMAT:
        raise ValueError("not an attempt file")
    when = _dt.datetime.fromisoformat(str(data["submitted_at"]))
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    key = data.get("key") or {}
    score = data.get("score")
    if not isinstance(score, Mapping):
        raise ValueError("the attempt has no score")
    seconds = data.get("seconds")
    return AttemptRecord(
        path=path,
        id=str(data.get("id") or path.name[: -len(ATTEMPT_SUFFIX)]),
        submitted_at=when,
        key_id=str(key.get("id") or ""),
        key_title=str(key.get("title") or ""),
        key_file=str(key.get("file") or ""),
        reader=str(data.get("reader") or ""),
        seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
        score=score,
        attempt=data.get("attempt") or {},
    )


def load_history(folder: str | os.PathLike[str] | None = None, key_id: str | None = None) -> list[AttemptRecord]:
    """Every stored attempt (of one key when `key_id` is given), oldest first. Damaged files are skipped."""
    folder = Path(folder) if folder is not None else attempts_dir()
    records: list[AttemptRecord] = []
    for path in sorted(folder.glob(f"*{ATTEMPT_SUFFIX}")):
        try:
            record = _record(path, json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("an attempt file cannot be read and is left out of the history: %s", exc)
            continue
        if key_id is None or record.key_id == key_id:
            records.append(record)
    records.sort(key=lambda r: (r.submitted_at, r.id))
    return records


# --- aggregates for the progress view ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    """Mean absolute error of one landmark or measurement over some attempts."""

    name: str
    mean_abs: float  # over the placed / computed ones (NaN when none)
    n: int  # limb-attempts with an error
    passed_fraction: float  # of all limb-attempts scored, unplaced / uncomputable ones as failures
    scored: int


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One attempt's value in a time series."""

    when: _dt.datetime
    attempt_id: str
    key_title: str
    value: float  # mean |error| over the limbs of this attempt (or the score in %)
    passed_fraction: float


def _usable(records: Iterable[AttemptRecord], kind: Kind) -> list[AttemptRecord]:
    # Landmark errors of uncalibrated keys are in pixels: they cannot join millimetres.
    return [r for r in records if kind == "measurement" or r.unit == "mm"]


def mean_errors(records: Sequence[AttemptRecord], kind: Kind = "measurement",
                since: _dt.datetime | None = None, until: _dt.datetime | None = None) -> dict[str, ErrorSummary]:
    """Mean |error| and pass rate per measurement (or landmark) over the attempts in [since, until).

    Landmark errors come from calibrated keys only (mm); measurement errors are in each
    measurement's own unit (its key says it: `_deg`, `_mm`, `_px`).
    """
    chosen = [r for r in _usable(records, kind)
              if (since is None or r.submitted_at >= since) and (until is None or r.submitted_at < until)]
    errors: dict[str, list[float]] = {}
    outcomes: dict[str, list[bool]] = {}
    for r in chosen:
        for name, items in r.errors(kind).items():
            errors.setdefault(name, []).extend(e for e, _ in items)
        for name, passes in r.outcomes(kind).items():
            outcomes.setdefault(name, []).extend(passes)
    out: dict[str, ErrorSummary] = {}
    for name in _ordered(outcomes, kind):
        errs = errors.get(name, [])
        passes = outcomes[name]
        out[name] = ErrorSummary(name, sum(errs) / len(errs) if errs else math.nan, len(errs),
                                 sum(passes) / len(passes) if passes else math.nan, len(passes))
    return out


def error_series(records: Sequence[AttemptRecord], kind: Kind = "measurement") -> dict[str, list[SeriesPoint]]:
    """Per measurement (or landmark): one point per attempt that has it, oldest first."""
    out: dict[str, list[SeriesPoint]] = {}
    for r in sorted(_usable(records, kind), key=lambda r: r.submitted_at):
        errs = r.errors(kind)
        for name, passes in r.outcomes(kind).items():
            values = [e for e, _ in errs.get(name, [])]
            if not values:
                continue
            out.setdefault(name, []).append(SeriesPoint(r.submitted_at, r.id, r.key_title, sum(values) / len(values),
                                                        sum(passes) / len(passes)))
    return {name: out[name] for name in _ordered(out, kind)}


def score_series(records: Sequence[AttemptRecord]) -> list[SeriesPoint]:
    """The score of each attempt, oldest first (attempts with nothing scored are left out)."""
    points = []
    for r in sorted(records, key=lambda r: r.submitted_at):
        pct = r.score_pct
        if pct is None:
            continue
        points.append(SeriesPoint(r.submitted_at, r.id, r.key_title, pct, pct / 100.0))
    return points


def _ordered(names: Iterable[str], kind: Kind) -> list[str]:
    from measurements.landmarks import LANDMARK_NAMES
    from measurements.measure import MEASUREMENT_KEYS

    names = list(names)
    if kind == "landmark":
        order = list(LANDMARK_NAMES)
    else:
        order = []
        for key in MEASUREMENT_KEYS:
            order += [key, key[:-3] + "_px"] if key.endswith("_mm") else [key]
    rank = {n: i for i, n in enumerate(order)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


# --- CSV ------------------------------------------------------------------------------------------------

CSV_COLUMNS = ("submitted_at", "attempt_id", "reader", "key_id", "key_title", "limb", "item", "name", "attempt",
               "key", "error", "unit", "tolerance", "pass")


def history_rows(records: Sequence[AttemptRecord]) -> list[dict[str, Any]]:
    """The history in long format: one row per landmark, measurement, MAT and score of each attempt."""
    rows: list[dict[str, Any]] = []
    for r in records:
        base = {"submitted_at": r.submitted_at.isoformat(), "attempt_id": r.id, "reader": r.reader,
                "key_id": r.key_id, "key_title": r.key_title}
        unit = r.unit
        for limb, items in (r.score.get("landmarks") or {}).items():
            for name, item in items.items():
                rows.append({**base, "limb": limb, "item": "landmark", "name": name, "attempt": "", "key": "",
                             "error": _cell(item.get(f"error_{unit}")), "unit": unit,
                             "tolerance": _cell(item.get(f"tolerance_{unit}")), "pass": _yes(item.get("pass"))})
        for limb, items in (r.score.get("measurements") or {}).items():
            for name, item in items.items():
                rows.append({**base, "limb": limb, "item": "measurement", "name": name,
                             "attempt": _cell(item.get("attempt")), "key": _cell(item.get("key")),
                             "error": _cell(item.get("error")), "unit": name.rsplit("_", 1)[-1],
                             "tolerance": _cell(item.get("band")), "pass": _yes(item.get("pass"))})
        for limb, item in (r.score.get("mat") or {}).items():
            compared = item.get("compared") or []
            rows.append({**base, "limb": limb, "item": "mat", "name": "malalignment test",
                         "attempt": " ".join(f"{c}={item.get('attempt', {}).get(c, '')}" for c in compared),
                         "key": " ".join(f"{c}={item.get('key', {}).get(c, '')}" for c in compared),
                         "error": "", "unit": "", "tolerance": "", "pass": _yes(item.get("pass"))})
        rows.append({**base, "limb": "", "item": "score", "name": "score_pct", "attempt": _cell(r.score_pct),
                     "key": "", "error": "", "unit": "%", "tolerance": "", "pass": ""})
    return rows


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _yes(value: Any) -> str:
    return "yes" if value else "no"


def export_history_csv(records: Sequence[AttemptRecord], out_path: str | os.PathLike[str]) -> Path:
    """Write :func:`history_rows` as CSV (UTF-8 with a byte-order mark, for spreadsheets), atomically."""
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history_rows(records))
    out_path = Path(out_path)
    atomic_write_text(out_path, "\ufeff" + buffer.getvalue())
    return out_path


__all__ = [
    "ATTEMPT_FORMAT",
    "AttemptRecord",
    "CSV_COLUMNS",
    "ErrorSummary",
    "SeriesPoint",
    "attempts_dir",
    "error_series",
    "export_history_csv",
    "history_rows",
    "load_history",
    "mean_errors",
    "save_attempt",
    "score_series",
]
