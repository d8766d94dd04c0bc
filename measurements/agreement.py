"""Agreement between readers: intraclass correlations, SEM, MDC95, Bland–Altman, intra-reader ICC.

The statistics of shared/spec/practice.md ("Agreement between readers"), computed with numpy and
the F distribution of scipy (``scipy.special.fdtri``, the quantile function behind
``scipy.stats.f.ppf``): the two-way ANOVA mean squares of a subjects x readers matrix, the six
intraclass correlations of McGraw & Wong (1996) with their 95 % intervals (Satterthwaite degrees of
freedom for the absolute-agreement forms), as R's ``psych::ICC`` and pingouin compute them.

A study is a folder of case files, each naming its reader (``"reader": {"name": "A", "session": 1}``);
the film is identified by ``image.sop_instance_uid``, else by the file name of ``image.path``. A
subject is one limb of one film.

    >>> table2 = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> r = icc(table2)  # Shrout & Fleiss (1979), table 2
    >>> round(r.icc["ICC(A,1)"], 3), [round(v, 2) for v in r.ci95["ICC(A,1)"]]
    (0.29, [0.02, 0.76])
"""
from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from scipy.special import fdtri  # the F quantile scipy.stats.f.ppf uses, without importing scipy.stats (1.7 s)

from .case import Case, CaseError, load_case
from .landmarks import Side
from .measure import MEASUREMENT_KEYS, measure_case

log = logging.getLogger(__name__)

ICC_FORMS: tuple[str, ...] = ("ICC(1,1)", "ICC(A,1)", "ICC(C,1)", "ICC(1,k)", "ICC(A,k)", "ICC(C,k)")
HEADLINE = "ICC(A,1)"  # Koo & Li 2016: absolute agreement, single rater
MIN_SUBJECTS = 3  # a measurement is analysed when at least this many subjects have it
MDC_FACTOR = 1.96 * math.sqrt(2.0)


class AgreementError(ValueError):
    """A study that cannot be analysed (no folder, no case files, no reader); `str()` says why."""


# --- the statistics ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeanSquares:
    """Two-way ANOVA without interaction of an n x k matrix (rows subjects, columns readers), and
    the one-way within-subject mean square."""

    n: int
    k: int
    msr: float  # between subjects (rows), n - 1 df
    msc: float  # between readers (columns), k - 1 df
    mse: float  # residual, (n - 1)(k - 1) df
    msw: float  # within subjects (columns + residual), n (k - 1) df


def _matrix(values: Any) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 2:
        raise ValueError("expected a subjects x readers matrix")
    n, k = x.shape
    if n < 2 or k < 2:
        raise ValueError(f"an ICC needs at least 2 subjects and 2 readers (got {n} x {k})")
    if not np.all(np.isfinite(x)):
        raise ValueError("the matrix has missing or non-finite values")
    return x


def mean_squares(values: Any) -> MeanSquares:
    """Mean squares of a complete subjects x readers matrix (at least 2 x 2)."""
    x = _matrix(values)
    n, k = x.shape
    grand = float(x.mean())
    ssr = k * float(((x.mean(axis=1) - grand) ** 2).sum())
    ssc = n * float(((x.mean(axis=0) - grand) ** 2).sum())
    sst = float(((x - grand) ** 2).sum())
    sse = max(sst - ssr - ssc, 0.0)  # rounding can leave a tiny negative residual
    return MeanSquares(n, k, ssr / (n - 1), ssc / (k - 1), sse / ((n - 1) * (k - 1)), (ssc + sse) / (n * (k - 1)))


@dataclass(frozen=True, slots=True)
class IccResult:
    """The six ICCs and their confidence intervals; NaN where the data give no answer
    (e.g. every subject identical)."""

    n: int
    k: int
    icc: Mapping[str, float]
    ci95: Mapping[str, tuple[float, float]]
    mean_squares: MeanSquares
    confidence: float = 0.95


def _f_quantile(p: float, dfn: float, dfd: float) -> float:
    """The p-quantile of the F distribution (scipy.stats.f.ppf(p, dfn, dfd))."""
    return float(fdtri(dfn, dfd, p))


def _ratio(a: float, b: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.divide(a, b))


def _consistency_ci(F: float, df1: float, df2: float, k: int, alpha: float) -> tuple[tuple[float, float],
                                                                                       tuple[float, float]]:
    """Limits for the single and average forms from an F ratio (McGraw & Wong, cases 1 and 3)."""
    if math.isinf(F):
        return (1.0, 1.0), (1.0, 1.0)
    fl = _ratio(F, _f_quantile(1 - alpha / 2, df1, df2))
    fu = F * _f_quantile(1 - alpha / 2, df2, df1)
    single = (_ratio(fl - 1, fl + k - 1), _ratio(fu - 1, fu + k - 1))
    average = (1 - _ratio(1.0, fl), 1 - _ratio(1.0, fu))
    return single, average


def _absolute_ci(ms: MeanSquares, rho: float, alpha: float) -> tuple[float, float]:
    """ICC(A,1) limits with Satterthwaite's degrees of freedom (McGraw & Wong 1996, case 2A)."""
    n, k = ms.n, ms.k
    if not math.isfinite(rho):
        return (math.nan, math.nan)
    if rho >= 1.0:
        return (1.0, 1.0)
    a = k * rho / (n * (1 - rho))
    b = 1 + k * rho * (n - 1) / (n * (1 - rho))
    num = (a * ms.msc + b * ms.mse) ** 2
    den = (a * ms.msc) ** 2 / (k - 1) + (b * ms.mse) ** 2 / ((n - 1) * (k - 1))
    v = _ratio(num, den)
    if not math.isfinite(v) or v <= 0:
        return (math.nan, math.nan)
    f_low = _f_quantile(1 - alpha / 2, n - 1, v)
    f_up = _f_quantile(1 - alpha / 2, v, n - 1)
    c = k * ms.msc + (k * n - k - n) * ms.mse
    lower = _ratio(n * (ms.msr - f_low * ms.mse), f_low * c + n * ms.msr)
    upper = _ratio(n * (f_up * ms.msr - ms.mse), c + n * f_up * ms.msr)
    return (lower, upper)


def _spearman_brown(r: float, k: int) -> float:
    """The mean of k readers' reliability from one reader's, ``k r / (1 + (k-1) r)``.

    It rises monotonically from -inf to 1 as r goes from -1/(k-1) to 1; below -1/(k-1) (possible for
    ICC(A,1) only, when readers agree worse than chance) the formula leaves its range (it gives values
    above 1), and the k-reader reliability is undefined: NaN.
    """
    pole = -1.0 / (k - 1)
    if not math.isfinite(r) or r < pole:
        return math.nan
    if r == pole:
        return -math.inf
    return _ratio(k * r, 1 + (k - 1) * r)


def _spearman_brown_ci(ci: tuple[float, float], k: int) -> tuple[float, float]:
    """ICC(A,k)'s limits from ICC(A,1)'s, as McGraw & Wong's case 2A formulas give them (they are the
    Spearman–Brown step-up of the single-reader limits).

    Where ICC(A,1)'s lower limit is below -1/(k-1) the step-up would put the lower limit above the
    upper (pingouin and psych print such intervals as they come); the ICC(A,k) values that ICC(A,1)'s
    interval allows then reach down without bound, so the lower limit is -inf. When even the upper
    limit is below -1/(k-1), no ICC(A,k) is allowed: both limits are NaN.
    """
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return (math.nan, math.nan)
    pole = -1.0 / (k - 1)
    if hi <= pole:
        return (math.nan, math.nan)
    return (-math.inf if lo <= pole else _spearman_brown(lo, k), _spearman_brown(hi, k))


def icc(values: Any, confidence: float = 0.95) -> IccResult:
    """The six intraclass correlations of a complete subjects x readers matrix (practice.md).

    ``ICC(1,1) = (MSR - MSW) / (MSR + (k-1) MSW)``, ``ICC(A,1) = (MSR - MSE) / (MSR + (k-1) MSE +
    k (MSC - MSE) / n)``, ``ICC(C,1) = (MSR - MSE) / (MSR + (k-1) MSE)`` and their k-reader forms,
    each with its confidence interval from the F distribution (ICC(A,k)'s is the Spearman–Brown
    step-up of ICC(A,1)'s, as psych and pingouin compute it). Raises ValueError for a matrix
    smaller than 2 x 2 or with missing values.

    Values and limits below 0 are kept as computed (readers who agree worse than chance; the
    k-reader forms' lower limits can lie far below 0). One case departs from the packages: when
    ICC(A,1) or its lower limit is below -1/(k-1), the step-up leaves its range (pingouin then
    prints an ICC(A,k) above 1 or a lower limit above the upper); here ICC(A,k) is NaN and its
    lower limit -inf (see :func:`_spearman_brown_ci`).
    """
    ms = mean_squares(values)
    n, k = ms.n, ms.k
    alpha = 1.0 - confidence
    msr, msc, mse, msw = ms.msr, ms.msc, ms.mse, ms.msw
    a1 = _ratio(msr - mse, msr + (k - 1) * mse + k * (msc - mse) / n)
    values_ = {
        "ICC(1,1)": _ratio(msr - msw, msr + (k - 1) * msw),
        "ICC(A,1)": a1,
        "ICC(C,1)": _ratio(msr - mse, msr + (k - 1) * mse),
        "ICC(1,k)": _ratio(msr - msw, msr),
        # = the Spearman–Brown step-up of ICC(A,1); undefined (NaN, not a value above 1) when ICC(A,1)
        # is below -1/(k-1)
        "ICC(A,k)": _ratio(msr - mse, msr + (msc - mse) / n) if not a1 < -1.0 / (k - 1) else math.nan,
        "ICC(C,k)": _ratio(msr - mse, msr),
    }
    f_one = _ratio(msr, msw)
    f_two = _ratio(msr, mse)
    one_single, one_average = _consistency_ci(f_one, n - 1, n * (k - 1), k, alpha)
    c_single, c_average = _consistency_ci(f_two, n - 1, (n - 1) * (k - 1), k, alpha)
    a_single = _absolute_ci(ms, values_["ICC(A,1)"], alpha)
    ci = {
        "ICC(1,1)": one_single,
        "ICC(A,1)": a_single,
        "ICC(C,1)": c_single,
        "ICC(1,k)": one_average,
        "ICC(A,k)": _spearman_brown_ci(a_single, k),
        "ICC(C,k)": c_average,
    }
    return IccResult(n, k, values_, ci, ms, confidence)


NEGATIVE_NOTE = (
    "ICCs and limits below 0 are reported as computed, as statistical packages report them, not set to 0: an "
    "ICC below 0 means the readers differ about a subject more than the subjects differ from one another (no "
    "reliability), and an interval reaching below 0 means that reliability is not shown. The lower limits of "
    "the k-reader forms can lie far below 0 when a single reader's agreement is poor."
)


def has_negative(result: IccResult | None) -> bool:
    """Whether an ICC or a 95 % limit of `result` is below 0 (then :data:`NEGATIVE_NOTE` goes with it)."""
    if result is None:
        return False
    values = list(result.icc.values()) + [v for ci in result.ci95.values() for v in ci]
    return any(v < 0 for v in values if not math.isnan(v))


def icc_notes(result: IccResult) -> list[str]:
    """Sentences on the values of an ICC result that need them: an undefined ICC(A,k), unbounded values
    or limits (written as null in JSON, so that a reader knows why)."""
    notes: list[str] = []
    a1 = result.icc["ICC(A,1)"]
    pole = -1.0 / (result.k - 1)
    if math.isfinite(a1) and a1 < pole:
        notes.append(f"ICC(A,k) is undefined: ICC(A,1) ({a1:.3f}) is below -1/(k-1) = {pole:.3f}, where the mean "
                     "of k readers has no reliability to report (statistical packages print a value above 1)")
    flat = result.mean_squares.msr == 0
    for form in ICC_FORMS:
        value = result.icc[form]
        lo, _hi = result.ci95[form]
        if value == -math.inf:
            notes.append(f"{form} is unbounded below: every subject has the same mean value")
        elif lo == -math.inf:
            why = ("every subject has the same mean value" if flat or form != "ICC(A,k)" else
                   f"ICC(A,1)'s lower limit is below -1/(k-1) = {pole:.3f}; statistical packages print a lower "
                   "limit above the upper")
            notes.append(f"{form}: the lower 95 % limit is unbounded ({why})")
    return notes


def sem(values: Any, icc_a1: float) -> float:
    """Standard error of measurement: SD of every value of the matrix (n - 1) x sqrt(1 - ICC(A,1))."""
    x = np.asarray(values, dtype=float).ravel()
    if x.size < 2 or not math.isfinite(icc_a1):
        return math.nan
    return float(np.std(x, ddof=1)) * math.sqrt(max(1.0 - icc_a1, 0.0))


def mdc95(sem_value: float) -> float:
    """Minimal detectable change at 95 %: 1.96 x sqrt(2) x SEM."""
    return MDC_FACTOR * sem_value


@dataclass(frozen=True, slots=True)
class BlandAltman:
    """Differences first - second over the subjects both measured; SD with n - 1 (NaN when n < 2)."""

    n: int
    bias: float
    sd: float
    loa: tuple[float, float]
    means: tuple[float, ...] = ()
    differences: tuple[float, ...] = ()
    subjects: tuple[str, ...] = ()


def bland_altman(first: Sequence[float], second: Sequence[float], subjects: Sequence[str] = ()) -> BlandAltman:
    """Bias, SD and 95 % limits of agreement (bias ± 1.96 SD) of paired measurements."""
    a = np.asarray(first, dtype=float)
    b = np.asarray(second, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("Bland–Altman needs two sequences of the same length")
    n = int(a.size)
    if n == 0:
        raise ValueError("Bland–Altman needs at least one pair")
    d = a - b
    bias = float(d.mean())
    sd = float(np.std(d, ddof=1)) if n >= 2 else math.nan
    return BlandAltman(n, bias, sd, (bias - 1.96 * sd, bias + 1.96 * sd), tuple(((a + b) / 2).tolist()),
                       tuple(d.tolist()), tuple(subjects))


# --- reading a study ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Skipped:
    file: str  # relative to the study folder
    reason: str


@dataclass(frozen=True, slots=True)
class Reading:
    """One reader's case of one film in one session."""

    file: str
    reader: str
    session: int
    film: str  # the film's identity (SOP Instance UID, else the film's file name)
    film_label: str  # what a person calls it (the film's file name when known)
    values: Mapping[str, Mapping[str, float]]  # limb -> measurement key -> value


@dataclass(frozen=True, slots=True)
class Study:
    folder: Path
    readings: tuple[Reading, ...]
    skipped: tuple[Skipped, ...]

    @property
    def readers(self) -> tuple[str, ...]:
        return tuple(sorted({r.reader for r in self.readings}))

    def sessions(self, reader: str) -> tuple[int, ...]:
        return tuple(sorted({r.session for r in self.readings if r.reader == reader}))


def parse_reader(case: Case) -> tuple[str, int]:
    """The reader's name and session of a case; raises ValueError with the reason to list.

    ``"reader": {"name": "A", "session": 2}`` as practice.md gives it; a plain ``"reader": "A"``
    (as the report dialog writes it) with an optional top-level ``"session"`` is read too.
    """
    raw = case.extra.get("reader")
    session_raw: Any = case.extra.get("session", 1)
    if isinstance(raw, Mapping):
        name = raw.get("name")
        session_raw = raw.get("session", session_raw)
    else:
        name = raw
    if name is None or (isinstance(name, str) and not name.strip()):
        raise ValueError("no reader")
    if not isinstance(name, (str, int)) or isinstance(name, bool):
        raise ValueError("the reader's name is not text")
    if session_raw is None:
        session_raw = 1
    if isinstance(session_raw, bool) or not isinstance(session_raw, (int, float)) or \
            not float(session_raw).is_integer() or session_raw < 1:
        raise ValueError(f"the reader's session must be a whole number from 1 (got {session_raw!r})")
    return str(name).strip(), int(session_raw)


def _film_name(path_text: Any) -> str:
    if not isinstance(path_text, str) or not path_text.strip():
        return ""
    return re.split(r"[\\/]", path_text.strip())[-1]


def case_values(case: Case) -> dict[str, dict[str, float]]:
    """The measurements of each limb used in a study: angles, mm lengths, and px lengths only on an
    uncalibrated film (a calibrated film's px twins would repeat its mm values)."""
    result = measure_case(case)
    out: dict[str, dict[str, float]] = {}
    for side, limb in result.limbs.items():
        values: dict[str, float] = {}
        for key in MEASUREMENT_KEYS:
            if key in limb.values:
                values[key] = limb.values[key]
            px = key[:-3] + "_px"
            if key.endswith("_mm") and not case.calibrated and px in limb.values:
                values[px] = limb.values[px]
        if values:
            out[str(side)] = values
    return out


def study_files(folder: Path) -> list[Path]:
    """The case files of a study folder, searched recursively: `*.case.json`, else every `*.json`."""
    def visible(p: Path) -> bool:
        return not any(part.startswith(".") for part in p.relative_to(folder).parts)

    found = sorted(p for p in folder.rglob("*.case.json") if p.is_file() and visible(p))
    if not found:
        found = sorted(p for p in folder.rglob("*.json") if p.is_file() and visible(p))
    return found


def read_study(folder: str | os.PathLike[str]) -> Study:
    """Read every case file under `folder`; cases that cannot be used are listed in `skipped`.

    Raises AgreementError when the folder does not exist or holds no case file.
    """
    folder = Path(folder)
    if not folder.exists():
        raise AgreementError("folder not found")
    if not folder.is_dir():
        raise AgreementError("not a folder (give the folder that holds the readers' case files)")
    files = study_files(folder)
    if not files:
        raise AgreementError("the folder contains no case files (*.case.json)")

    skipped: list[Skipped] = []
    loaded: list[tuple[str, Case, str, int, str, str]] = []  # file, case, reader, session, uid, name
    for path in files:
        rel = path.relative_to(folder).as_posix()
        try:
            case = load_case(path)
        except CaseError as exc:
            skipped.append(Skipped(rel, str(exc)))
            continue
        try:
            reader, session = parse_reader(case)
        except ValueError as exc:
            skipped.append(Skipped(rel, str(exc)))
            continue
        uid = str(case.image.get("sop_instance_uid") or "").strip()
        name = _film_name(case.image.get("path"))
        if not uid and not name:
            skipped.append(Skipped(rel, "the case does not name its film (image.sop_instance_uid or image.path)"))
            continue
        loaded.append((rel, case, reader, session, uid, name))

    # A case that gives only the film's file name joins the cases that give its UID as well.
    uid_of_name: dict[str, set[str]] = {}
    label_of_uid: dict[str, str] = {}
    for _rel, _case, _r, _s, uid, name in loaded:
        if uid and name:
            uid_of_name.setdefault(name, set()).add(uid)
            label_of_uid.setdefault(uid, name)

    films: list[tuple[str, str]] = []  # (identity, label) per loaded case
    for _rel, _case, _r, _s, uid, name in loaded:
        if not uid and len(uid_of_name.get(name, ())) == 1:
            uid = next(iter(uid_of_name[name]))
        films.append((uid or f"file:{name}", (label_of_uid.get(uid, name) if uid else name) or uid))
    # Subjects are named by their film's label: two different films with one file name stay apart.
    identities_of_label: dict[str, set[str]] = {}
    for film, label in films:
        identities_of_label.setdefault(label, set()).add(film)

    readings: list[Reading] = []
    seen: dict[tuple[str, int, str], str] = {}
    for (rel, case, reader, session, _uid, _name), (film, label) in zip(loaded, films):
        if len(identities_of_label[label]) > 1:
            label = f"{label} [{film[-8:]}]"
        slot = (reader, session, film)
        if slot in seen:
            skipped.append(Skipped(rel, f"a second case of reader {reader}, session {session} for this film "
                                        f"(the first, {seen[slot]}, is used)"))
            continue
        values = case_values(case)
        if not values:
            skipped.append(Skipped(rel, "no measurement can be computed (too few landmarks)"))
            continue
        seen[slot] = rel
        readings.append(Reading(rel, reader, session, film, label, values))
    skipped.sort(key=lambda s: s.file)
    return Study(folder, tuple(readings), tuple(skipped))


# --- the analysis ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntraReader:
    reader: str
    sessions: tuple[int, ...]
    n: int
    icc: IccResult | None
    sem: float
    unavailable: str = ""

    @property
    def icc_a1(self) -> float:
        return self.icc.icc[HEADLINE] if self.icc is not None else math.nan


@dataclass(frozen=True, slots=True)
class MeasurementAgreement:
    key: str
    subjects_present: int  # subjects with this measurement from any reader or session
    n: int  # subjects every reader measured (first sessions)
    readers: tuple[str, ...]
    subjects: tuple[str, ...]  # the rows of the inter-reader matrix
    matrix: np.ndarray | None  # n x k, columns in `readers` order
    icc: IccResult | None
    sem: float
    mdc95: float
    bland_altman: Mapping[str, BlandAltman]
    intra: Mapping[str, IntraReader]
    unavailable: str = ""

    @property
    def unit(self) -> str:
        return self.key.rsplit("_", 1)[-1]


@dataclass(frozen=True, slots=True)
class AgreementResult:
    folder: Path
    readers: tuple[str, ...]
    sessions: Mapping[str, tuple[int, ...]]
    subjects: tuple[str, ...]
    measurements: Mapping[str, MeasurementAgreement]
    skipped: tuple[Skipped, ...]
    not_measured: Mapping[str, tuple[str, ...]]  # reader -> subjects that reader's first session lacks

    def to_json(self) -> dict[str, Any]:
        """The `agreement --json` object of practice.md (plus sessions, units and the subjects a
        reader did not measure)."""
        out: dict[str, Any] = {
            "subjects": len(self.subjects),
            "readers": list(self.readers),
            "sessions": {r: list(s) for r, s in self.sessions.items()},
            "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped],
            "not_measured": {r: list(s) for r, s in self.not_measured.items() if s},
            "measurements": {},
        }
        for key, m in self.measurements.items():
            entry: dict[str, Any] = {"unit": m.unit, "subjects": m.subjects_present, "n": m.n}
            if m.icc is not None:
                entry["icc"] = {form: _j(m.icc.icc[form], 4) for form in ICC_FORMS}
                entry["ci95"] = {form: [_j(lo, 4), _j(hi, 4)] for form, (lo, hi) in m.icc.ci95.items()}
                notes = icc_notes(m.icc)
                if notes:
                    entry["notes"] = notes  # why a value or a limit is null
            else:
                entry["icc"] = None
                entry["ci95"] = None
            entry["sem"] = _j(m.sem, 3)
            entry["mdc95"] = _j(m.mdc95, 3)
            if m.unavailable:
                entry["unavailable"] = m.unavailable
            entry["bland_altman"] = {
                pair: {"bias": _j(ba.bias, 3), "sd": _j(ba.sd, 3), "loa": [_j(ba.loa[0], 3), _j(ba.loa[1], 3)],
                       "n": ba.n}
                for pair, ba in m.bland_altman.items()
            }
            entry["intra"] = {}
            for reader, intra in m.intra.items():
                item: dict[str, Any] = {"n": intra.n, "sessions": list(intra.sessions),
                                        "icc_a1": _j(intra.icc_a1, 4), "sem": _j(intra.sem, 3)}
                if intra.icc is not None:
                    item["ci95"] = [_j(v, 4) for v in intra.icc.ci95[HEADLINE]]
                if intra.unavailable:
                    item["unavailable"] = intra.unavailable
                entry["intra"][reader] = item
            out["measurements"][key] = entry
        return out

    def csv_rows(self) -> list[dict[str, Any]]:
        """One row per statistic (long format, for R or a spreadsheet):
        measurement, unit, analysis, readers, n, statistic, value, ci95_low, ci95_high."""
        rows: list[dict[str, Any]] = []

        def add(m: MeasurementAgreement, analysis: str, readers: str, n: int, stat: str, value: float,
                ci: tuple[float, float] | None = None) -> None:
            rows.append({"measurement": m.key, "unit": m.unit, "analysis": analysis, "readers": readers, "n": n,
                         "statistic": stat, "value": _c(value, 4),
                         "ci95_low": "" if ci is None else _c(ci[0], 4),
                         "ci95_high": "" if ci is None else _c(ci[1], 4)})

        for m in self.measurements.values():
            together = "|".join(m.readers)
            if m.icc is not None:
                for form in ICC_FORMS:
                    add(m, "inter", together, m.n, form, m.icc.icc[form], m.icc.ci95[form])
                add(m, "inter", together, m.n, "sem", m.sem)
                add(m, "inter", together, m.n, "mdc95", m.mdc95)
            for pair, ba in m.bland_altman.items():
                add(m, "bland_altman", pair, ba.n, "bias", ba.bias)
                add(m, "bland_altman", pair, ba.n, "sd", ba.sd)
                add(m, "bland_altman", pair, ba.n, "loa_low", ba.loa[0])
                add(m, "bland_altman", pair, ba.n, "loa_high", ba.loa[1])
            for reader, intra in m.intra.items():
                if intra.icc is not None:
                    add(m, "intra", reader, intra.n, HEADLINE, intra.icc_a1, intra.icc.ci95[HEADLINE])
                    add(m, "intra", reader, intra.n, "sem", intra.sem)
        return rows


CSV_COLUMNS = ("measurement", "unit", "analysis", "readers", "n", "statistic", "value", "ci95_low", "ci95_high")


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _j(value: float | None, digits: int) -> float | None:
    return round(float(value), digits) + 0.0 if _finite(value) else None


def _c(value: float | None, digits: int) -> Any:
    if value is not None and math.isinf(value):
        return "Inf" if value > 0 else "-Inf"  # an unbounded limit, as R writes it
    return round(float(value), digits) + 0.0 if _finite(value) else ""


def _subject(reading: Reading, limb: str) -> str:
    return f"{reading.film_label} {limb}"


def _ordered_keys(keys: Iterable[str]) -> list[str]:
    order: list[str] = []
    for key in MEASUREMENT_KEYS:
        order.append(key)
        if key.endswith("_mm"):
            order.append(key[:-3] + "_px")
    present = set(keys)
    return [k for k in order if k in present]


def _icc_or_none(matrix: np.ndarray, confidence: float) -> IccResult | None:
    try:
        return icc(matrix, confidence)
    except ValueError:
        return None


def analyse(study: Study, min_subjects: int = MIN_SUBJECTS, confidence: float = 0.95) -> AgreementResult:
    """Inter-reader ICCs, SEM, MDC95, Bland–Altman per pair, intra-reader ICC per reader (practice.md).

    The inter-reader matrix uses each reader's first session and keeps, per measurement, the
    subjects every reader measured; Bland–Altman pairs use the subjects both readers measured.
    """
    readers = study.readers
    sessions = {r: study.sessions(r) for r in readers}
    # (reader, session) -> subject -> key -> value
    table: dict[tuple[str, int], dict[str, dict[str, float]]] = {}
    for reading in study.readings:
        for limb, values in reading.values.items():
            table.setdefault((reading.reader, reading.session), {})[_subject(reading, limb)] = dict(values)
    subjects = tuple(sorted({s for per in table.values() for s in per}, key=_subject_sort))

    first = {r: table.get((r, sessions[r][0]), {}) for r in readers}
    not_measured = {r: tuple(s for s in subjects if s not in first[r]) for r in readers}

    present: dict[str, set[str]] = {}
    for per in table.values():
        for subject, values in per.items():
            for key in values:
                present.setdefault(key, set()).add(subject)

    measurements: dict[str, MeasurementAgreement] = {}
    for key in _ordered_keys(k for k, s in present.items() if len(s) >= min_subjects):
        rows = [s for s in subjects if all(key in first[r].get(s, {}) for r in readers)]
        matrix = np.array([[first[r][s][key] for r in readers] for s in rows], dtype=float) if rows else None
        unavailable = ""
        result = None
        if len(readers) < 2:
            unavailable = "one reader only: no inter-reader agreement"
        elif len(rows) < 2:
            unavailable = f"{len(rows)} subject(s) measured by every reader: an ICC needs at least 2"
        else:
            result = _icc_or_none(matrix, confidence)
            if result is not None and not math.isfinite(result.icc[HEADLINE]):
                result = None
                unavailable = "the values do not vary: the ICC is undefined"
        sem_value = sem(matrix, result.icc[HEADLINE]) if result is not None else math.nan
        pairs: dict[str, BlandAltman] = {}
        for a, b in combinations(readers, 2):
            both = [s for s in subjects if key in first[a].get(s, {}) and key in first[b].get(s, {})]
            if both:
                pairs[f"{a}|{b}"] = bland_altman([first[a][s][key] for s in both], [first[b][s][key] for s in both],
                                                 both)
        intra: dict[str, IntraReader] = {}
        for r in readers:
            if len(sessions[r]) < 2:
                continue
            per_session = [table.get((r, s), {}) for s in sessions[r]]
            rows_r = [s for s in subjects if all(key in per.get(s, {}) for per in per_session)]
            if len(rows_r) < 2:
                intra[r] = IntraReader(r, sessions[r], len(rows_r), None, math.nan,
                                       f"{len(rows_r)} subject(s) measured in every session: an ICC needs at least 2")
                continue
            m = np.array([[per[s][key] for per in per_session] for s in rows_r], dtype=float)
            res = _icc_or_none(m, confidence)
            if res is None or not math.isfinite(res.icc[HEADLINE]):
                intra[r] = IntraReader(r, sessions[r], len(rows_r), None, math.nan,
                                       "the values do not vary: the ICC is undefined")
                continue
            intra[r] = IntraReader(r, sessions[r], len(rows_r), res, sem(m, res.icc[HEADLINE]))
        measurements[key] = MeasurementAgreement(
            key, len(present[key]), len(rows), readers, tuple(rows), matrix, result, sem_value,
            mdc95(sem_value) if math.isfinite(sem_value) else math.nan, pairs, intra, unavailable)
    return AgreementResult(study.folder, readers, sessions, subjects, measurements, study.skipped, not_measured)


def _subject_sort(subject: str) -> tuple[str, int]:
    name, _, limb = subject.rpartition(" ")
    return (name, 0 if limb == str(Side.RIGHT) else 1)


def agreement(folder: str | os.PathLike[str], min_subjects: int = MIN_SUBJECTS) -> AgreementResult:
    """Read a study folder and analyse it; raises AgreementError when no case names a reader."""
    study = read_study(folder)
    if not study.readings:
        raise AgreementError("no case file names a reader (\"reader\": {\"name\": ..., \"session\": ...})")
    return analyse(study, min_subjects)


__all__ = [
    "AgreementError",
    "AgreementResult",
    "BlandAltman",
    "CSV_COLUMNS",
    "HEADLINE",
    "ICC_FORMS",
    "NEGATIVE_NOTE",
    "IccResult",
    "IntraReader",
    "MeanSquares",
    "MeasurementAgreement",
    "Reading",
    "Skipped",
    "Study",
    "agreement",
    "analyse",
    "bland_altman",
    "case_values",
    "has_negative",
    "icc",
    "icc_notes",
    "mdc95",
    "mean_squares",
    "parse_reader",
    "read_study",
    "sem",
    "study_files",
]
