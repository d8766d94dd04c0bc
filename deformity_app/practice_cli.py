"""The `score` and `agreement` commands (shared/spec/practice.md). Qt is never imported.

`deformity-app score ATTEMPT.case.json KEY.case.json [--json]`: an attempt scored against a teaching
key. `deformity-app agreement FOLDER [--json] [--csv OUT.csv] [--pdf OUT.pdf]`: inter- and
intra-reader agreement of a folder of readers' case files. Refusals as `measure`: one line
`PATH: reason` on standard error and exit status 2, never a traceback.

Wiring into `cli.py`: `add_practice_parsers(sub)` in `build_parser`, and "score", "agreement" in
`_COMMANDS`.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any, Sequence

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_REFUSED = 2

log = logging.getLogger(__name__)

LANDMARK_WIDTH = 34
UNIT_SYMBOLS = {"deg": "°", "mm": " mm", "px": " px"}


class _Refused(Exception):
    """Input the command refuses; `str()` is the line printed."""


# --- score --------------------------------------------------------------------------------------------


def _load(path: Path):
    from measurements.case import CaseError, load_case

    try:
        return load_case(path)
    except CaseError as exc:
        raise _Refused(f"{path}: {exc}") from None


def _num(value: float | None, unit: str, digits: int = 1, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    if float(text) == 0:
        text = f"{0:.{digits}f}"
    return text + UNIT_SYMBOLS.get(unit, unit and f" {unit}")


def _measurement_unit(key: str) -> str:
    return key.rsplit("_", 1)[-1]




def score_text(attempt_path: Path, key_path: Path, key_case, score) -> str:
    """The readable score: landmarks, measurements and the malalignment test per limb, then the score."""
    from measurements.landmarks import landmark_label
    from measurements.present import LABELS
    from measurements.scoring import UNCALIBRATED_NOTE, case_measurement_label

    out = io.StringIO()
    info = key_case.extra.get("key") if isinstance(key_case.extra.get("key"), dict) else {}
    out.write(f"Attempt: {attempt_path}\n")
    title = f" — {info.get('title')}" if info.get("title") else ""
    level = f" ({info.get('level')})" if info.get("level") else ""
    out.write(f"Key:     {key_path}{title}{level}\n")
    if score.unit == "mm":
        row, col = key_case.pixel_spacing_mm
        out.write(f"Lengths in mm with the key's pixel spacing ({row:.4g} x {col:.4g} mm).\n")
    else:
        out.write(UNCALIBRATED_NOTE + "\n")
    for side, limb in score.limbs.items():
        out.write(f"\n{side.label} limb\n")
        out.write(f"  {'Landmark':<{LANDMARK_WIDTH}}{'Error':>10}{'Tolerance':>11}  Result\n")
        for name, s in limb.landmarks.items():
            if not s.placed:
                err = "not placed"
            else:
                err = _num(s.error, score.unit) + ("*" if s.perpendicular_only else " ")
            out.write(f"  {landmark_label(name):<{LANDMARK_WIDTH}}{err:>11}{_num(s.tolerance, score.unit, 0):>10}  "
                      f"{'pass' if s.passed else 'FAIL'}\n")
        if any(s.perpendicular_only for s in limb.landmarks.values()):
            out.write("  * shaft midpoint: only the distance across the key's shaft line counts\n")
        out.write(f"\n  {'Measurement':<{LANDMARK_WIDTH}}{'Attempt':>10}{'Key':>10}{'Error':>10}{'Band':>9}  Result\n")
        for key, m in limb.measurements.items():
            unit = _measurement_unit(key)
            label = LABELS.get(key[:-3] + "_mm" if key.endswith("_px") else key, key)
            result = ("pass" if m.passed else "FAIL") + (f" ({m.reason})" if m.reason else "")
            out.write(f"  {label:<{LANDMARK_WIDTH}}{_num(m.attempt, unit):>10}{_num(m.expected, unit):>10}"
                      f"{_num(m.error, unit, signed=True):>10}{'±' + _num(m.band, unit):>9}  {result}\n")
        if limb.mat is not None:
            mat = limb.mat
            out.write(f"\n  {'Malalignment test':<{LANDMARK_WIDTH}}{'Attempt':>14}{'Key':>14}\n")
            for name in mat.attempt:
                mark = "" if name not in mat.compared else ("  =" if mat.class_passed(name) else "  differs")
                out.write(f"  {name:<{LANDMARK_WIDTH}}{mat.attempt[name]:>14}{mat.expected[name]:>14}{mark}\n")
            out.write(f"  MAT: {'pass' if mat.passed else 'FAIL'} (compared: {', '.join(mat.compared)})\n")
    if score.case_measurements:
        out.write("\nBoth limbs\n")
        out.write(f"  {'Measurement':<{LANDMARK_WIDTH}}{'Attempt':>10}{'Key':>10}{'Error':>10}{'Band':>9}  Result\n")
        for key, m in score.case_measurements.items():
            unit = _measurement_unit(key)
            result = ("pass" if m.passed else "FAIL") + (f" ({m.reason})" if m.reason else "")
            out.write(f"  {case_measurement_label(key):<{LANDMARK_WIDTH}}{_num(m.attempt, unit, signed=True):>10}"
                      f"{_num(m.expected, unit, signed=True):>10}{_num(m.error, unit, signed=True):>10}"
                      f"{'±' + _num(m.band, unit):>9}  {result}\n")
    out.write("\n")
    if score.score_pct is None:
        out.write("Score: — (the key has no measurement to compare)\n")
    else:
        out.write(f"Score: {score.score_pct:.1f} % ({score.measurements_passed} of {score.measurements_scored} "
                  f"measurements within their band, MAT {score.mat_passed} of {score.mat_scored}; "
                  f"landmarks within tolerance: {score.landmarks_passed} of {score.landmarks_scored})\n")
    return out.getvalue()


def cmd_score(args: argparse.Namespace) -> int:
    """Score an attempt against a key (practice.md); exit 0 whatever the score, 2 on refused input."""
    from measurements.scoring import ScoringError, score_attempt

    attempt_path, key_path = Path(args.attempt), Path(args.key)
    try:
        attempt = _load(attempt_path)
        key = _load(key_path)
    except _Refused as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    try:
        score = score_attempt(attempt, key)
    except ScoringError as exc:
        where = {"key": key_path, "attempt": attempt_path}.get(exc.about, "scoring rules")
        print(f"{where}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        print(json.dumps(score.to_json(), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(score_text(attempt_path, key_path, key, score))
    return EXIT_OK


# --- agreement -------------------------------------------------------------------------------------------


def agreement_text(result) -> str:
    """The readable summary of an agreement study."""
    from measurements.agreement import HEADLINE, NEGATIVE_NOTE, has_negative, icc_notes

    from .agreement_report import koo_li_reading, measurement_label

    out = io.StringIO()
    out.write(f"Agreement study: {result.folder}\n")
    sessions = "; ".join(f"{r}: {', '.join(map(str, s))}" for r, s in result.sessions.items())
    out.write(f"Readers: {', '.join(result.readers)} (sessions {sessions})\n")
    out.write(f"Subjects (limbs of films): {len(result.subjects)}\n")
    for reader, missing in result.not_measured.items():
        if missing:
            out.write(f"  {reader} did not measure (first session): {', '.join(missing)}\n")
    for key, m in result.measurements.items():
        sym = UNIT_SYMBOLS.get(m.unit, "")
        out.write(f"\n{measurement_label(key)} ({key}): n = {m.n} of {m.subjects_present} subjects\n")
        if m.icc is None:
            out.write(f"  no inter-reader ICC: {m.unavailable}\n")
        else:
            for form, value in m.icc.icc.items():
                lo, hi = m.icc.ci95[form]
                star = "  <- headline" if form == HEADLINE else ""
                out.write(f"  {form:<9}{_fmt(value, 3):>8}  95 % CI {_fmt(lo, 2)} to {_fmt(hi, 2)}{star}\n")
            out.write(f"  SEM {_fmt(m.sem, 2)}{sym}, MDC95 {_fmt(m.mdc95, 2)}{sym}; reading of ICC(A,1): "
                      f"{koo_li_reading(m.icc.ci95[HEADLINE])}\n")
            for note in icc_notes(m.icc):
                out.write(f"  note: {note}\n")
        for pair, ba in m.bland_altman.items():
            a, b = pair.split("|", 1)
            out.write(f"  Bland–Altman {a} − {b}: bias {_fmt(ba.bias, 2)}{sym}, SD {_fmt(ba.sd, 2)}{sym}, "
                      f"limits {_fmt(ba.loa[0], 2)} to {_fmt(ba.loa[1], 2)}{sym} (n = {ba.n})\n")
        for reader, intra in m.intra.items():
            if intra.icc is None:
                out.write(f"  Intra-reader {reader}: {intra.unavailable}\n")
            else:
                lo, hi = intra.icc.ci95[HEADLINE]
                out.write(f"  Intra-reader {reader} (sessions {', '.join(map(str, intra.sessions))}, n = {intra.n}): "
                          f"ICC(A,1) {_fmt(intra.icc_a1, 3)} (95 % CI {_fmt(lo, 2)} to {_fmt(hi, 2)}), "
                          f"SEM {_fmt(intra.sem, 2)}{sym}\n")
    if not result.measurements:
        out.write("\nNo measurement is present in 3 or more subjects.\n")
    if any(has_negative(m.icc) for m in result.measurements.values()):
        out.write(f"\nBelow 0: {NEGATIVE_NOTE}\n")
    if result.skipped:
        out.write("\nSkipped:\n")
        for s in result.skipped:
            out.write(f"  {s.file}: {s.reason}\n")
    return out.getvalue()


def _fmt(value: float | None, digits: int) -> str:
    if value is not None and math.isinf(value):
        return "-inf" if value < 0 else "inf"
    if value is None or not math.isfinite(value):
        return "—"
    text = f"{value:.{digits}f}"
    return f"{0:.{digits}f}" if float(text) == 0 else text


def _write_csv(result, path: Path) -> None:
    from measurements.agreement import CSV_COLUMNS
    from measurements.case import atomic_write_text

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(result.csv_rows())
    if not path.parent.is_dir():
        raise _Refused(f"{path}: the folder to write into does not exist")
    try:
        atomic_write_text(path, buffer.getvalue())
    except OSError as exc:
        raise _Refused(f"{path}: cannot be written ({exc.strerror or exc})") from None


def cmd_agreement(args: argparse.Namespace) -> int:
    """Agreement between the readers of a folder of case files (practice.md)."""
    from measurements.agreement import AgreementError, agreement

    folder = Path(args.folder)
    try:
        result = agreement(folder)
    except AgreementError as exc:
        print(f"{folder}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        if args.csv:
            _write_csv(result, Path(args.csv))
        if args.pdf:
            from .agreement_report import AgreementReportError, build_agreement_pdf

            try:
                build_agreement_pdf(result, Path(args.pdf))
            except AgreementReportError as exc:
                raise _Refused(f"{args.pdf}: {exc}") from None
    except _Refused as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(agreement_text(result))
    return EXIT_OK


# --- parsers ----------------------------------------------------------------------------------------------


def add_practice_parsers(sub: Any) -> None:
    """Register `score` and `agreement` on the `deformity-app` sub-command parsers."""
    p = sub.add_parser("score", help="score a practice attempt against a teaching key")
    p.add_argument("attempt", metavar="ATTEMPT", help="the attempt's case file (*.case.json)")
    p.add_argument("key", metavar="KEY", help="the teaching key's case file, on the same film")
    p.add_argument("--json", action="store_true", help="the JSON of practice.md")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("agreement", help="inter- and intra-reader agreement of a folder of readers' case files")
    p.add_argument("folder", metavar="FOLDER", help="case files naming their reader (searched recursively)")
    p.add_argument("--json", action="store_true", help="the JSON of practice.md instead of the summary")
    p.add_argument("--csv", metavar="OUT.csv", help="also write every statistic as CSV (one row each)")
    p.add_argument("--pdf", metavar="OUT.pdf", help="also write the PDF (ICC tables, Bland–Altman plots)")
    p.set_defaults(func=cmd_agreement)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deformity-app", description="Practice scoring and reader agreement.")
    add_practice_parsers(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `score` or `agreement` alone (tests and scripts); `deformity-app` wires the same parsers."""
    __import__("deformity_app.logs", fromlist=["setup_logging"]).setup_logging()
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the edge: never a traceback at a clinician
        log.debug("internal error", exc_info=True)
        print(f"deformity-app: internal error ({type(exc).__name__}: {exc}); please report it", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
