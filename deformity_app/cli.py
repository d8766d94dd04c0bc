"""The `deformity-app` command: the application, and the batch commands that never start Qt.

Refused input gives one line on standard error naming the file and the reason, and exit status 2;
never a traceback.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import sys
from pathlib import Path
from typing import Callable, Iterable, Sequence

from . import __version__

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_REFUSED = 2

log = logging.getLogger(__name__)


class Refused(Exception):
    """Input the command refuses; `str()` is the one line printed (file name and reason)."""


def _refuse_line(path: Path | str, reason: str) -> str:
    return f"{path}: {reason}"


# --- measure ----------------------------------------------------------------------------------------


def case_files(paths: Iterable[str]) -> list[Path]:
    """Expand folders into their case files (`*.case.json`, else `*.json`), sorted by name."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.glob("*.case.json")) or sorted(path.glob("*.json"))
            if not found:
                raise Refused(_refuse_line(path, "the folder contains no case files (*.case.json)"))
            files.extend(found)
        else:
            files.append(path)
    return files


def _load_and_measure(path: Path):
    from measurements.case import CaseError, load_case
    from measurements.measure import measure_case

    try:
        case = load_case(path)
    except CaseError as exc:
        raise Refused(_refuse_line(path, str(exc))) from None
    return case, measure_case(case)


def _measure_table(path: Path, case, result) -> str:
    from measurements.landmarks import Side
    from measurements.present import LABELS, TABLE_KEYS, calibration_text, flag_text, format_value, normal_text

    out = io.StringIO()
    caveat = str(case.calibration_extra.get("caveat", "")) if case.calibrated else ""
    out.write(f"{path}\n")
    out.write(f"  Calibration: {calibration_text(result.calibration_source, result.pixel_spacing_mm, caveat)}\n")
    for warning in result.warnings:
        out.write(f"  Warning: {warning}\n")
    if not result.limbs:
        out.write("  No limb has landmarks yet.\n")
    for side in (Side.RIGHT, Side.LEFT):
        limb = result.limbs.get(side)
        if limb is None:
            continue
        out.write(f"\n  {side.label} limb\n")
        out.write(f"    {'Measurement':<24}{'Value':>16}  {'Normal':<26}{'Flag'}\n")
        for key in TABLE_KEYS:
            value = format_value(key, limb)
            if not value:
                reason = limb.unavailable.get(key, "not available")
                out.write(f"    {LABELS[key]:<24}{'—':>16}  ({reason})\n")
                continue
            out.write(f"    {LABELS[key]:<24}{value:>16}  {normal_text(key):<26}{flag_text(key, limb)}\n")
        if limb.limb_length_basis:
            basis = "femoral head top" if limb.limb_length_basis == "head_top" else "femoral head centre"
            out.write(f"    (limb length measured from the {basis})\n")
        out.write(f"    MAT: {limb.mat.get('summary', '')}\n")
        for warning in limb.warnings:
            out.write(f"    Warning: {warning}\n")
    if result.lld_mm is not None:
        lld = result.lld_mm
        out.write(f"\n  LLD: {abs(lld):.0f} mm" + ("" if round(lld) == 0 else f" ({'right' if lld > 0 else 'left'} longer)") + "\n")
    elif result.lld_px is not None:
        lld = result.lld_px
        out.write(f"\n  LLD: {abs(lld):.0f} px" + ("" if round(lld) == 0 else f" ({'right' if lld > 0 else 'left'} longer)")
                  + " (uncalibrated)\n")
    elif "lld_mm" in result.unavailable:
        out.write(f"\n  LLD: — ({result.unavailable['lld_mm']})\n")
    out.write("\n  Angles to 0.1°, lengths to 1 mm; readers differ by about 1.1-1.4° and 3.3 mm (Braun et al. 2023).\n")
    return out.getvalue()


CSV_VALUE_KEYS = (
    "mad_mm", "mad_px", "mfta_deg", "hka_deg", "mlpfa_deg", "ampfa_deg", "nsa_deg", "mldfa_deg",
    "aldfa_deg", "ama_deg", "mpta_deg", "ldta_deg", "jlca_deg",
    "mechanical_axis_length_mm", "mechanical_axis_length_px", "femur_length_mm", "femur_length_px",
    "tibia_length_mm", "tibia_length_px", "limb_length_mm", "limb_length_px",
)
CSV_COLUMNS = (
    ("case_file", "limb", "calibration_source", "row_spacing_mm", "column_spacing_mm")
    + CSV_VALUE_KEYS
    + ("limb_length_basis", "lld_mm", "lld_px", "mat_malalignment", "mat_femur", "mat_tibia", "mat_joint",
       "mat_hip", "mat_ankle", "mat_summary", "warnings")
)


def _csv_rows(path: Path, result) -> list[dict[str, object]]:
    rows = []
    for side, limb in result.limbs.items():
        data = limb.to_json()
        row: dict[str, object] = {
            "case_file": str(path),
            "limb": str(side),
            "calibration_source": result.calibration_source,
            "row_spacing_mm": result.pixel_spacing_mm[0] if result.pixel_spacing_mm else "",
            "column_spacing_mm": result.pixel_spacing_mm[1] if result.pixel_spacing_mm else "",
            "limb_length_basis": limb.limb_length_basis or "",
            "lld_mm": "" if result.lld_mm is None else round(result.lld_mm, 2),
            "lld_px": "" if result.lld_px is None else round(result.lld_px, 2),
            "warnings": " | ".join(limb.warnings + result.warnings),
        }
        for key in CSV_VALUE_KEYS:
            row[key] = data.get(key, "")
        for key in ("malalignment", "femur", "tibia", "joint", "hip", "ankle", "summary"):
            row[f"mat_{key}"] = limb.mat.get(key, "")
        rows.append(row)
    return rows


def cmd_measure(args: argparse.Namespace) -> int:
    refused = 0
    outputs: list[tuple[Path, object, object]] = []
    try:
        files = case_files(args.cases)
    except Refused as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    for path in files:
        try:
            case, result = _load_and_measure(path)
        except Refused as exc:
            print(str(exc), file=sys.stderr)
            refused += 1
            continue
        outputs.append((path, case, result))

    if args.json:
        if len(files) == 1 and outputs:
            print(json.dumps(outputs[0][2].to_json(), indent=2, ensure_ascii=False))
        elif outputs:
            print(json.dumps([{"case_file": str(p), **r.to_json()} for p, _c, r in outputs], indent=2,
                             ensure_ascii=False))
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for path, _case, result in outputs:
            writer.writerows(_csv_rows(path, result))
    else:
        sys.stdout.write("\n".join(_measure_table(p, c, r) for p, c, r in outputs))
    return EXIT_REFUSED if refused else EXIT_OK


# --- report -----------------------------------------------------------------------------------------


def _default_report_path(case_path: Path) -> Path:
    name = case_path.name
    stem = name[: -len(".case.json")] if name.endswith(".case.json") else case_path.stem
    return case_path.with_name(stem + ".report.pdf")


def cmd_report(args: argparse.Namespace) -> int:
    """Print the analysis of one case file to a PDF (never starts Qt)."""
    from dicom_io.errors import FilmError
    from dicom_io.film import open_film

    from .report import ReportError, ReportOptions, build_report, check_logo, film_path_of

    case_path = Path(args.case)
    try:
        case, result = _load_and_measure(case_path)
    except Refused as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    film_path = film_path_of(case, case_path)
    if film_path is None:
        print(_refuse_line(case_path, "the case names no film (image.path); the report needs the film"),
              file=sys.stderr)
        return EXIT_REFUSED
    try:
        radiograph = open_film(film_path)
    except FilmError as exc:
        print(_refuse_line(case_path, f"its film {film_path} cannot be used: {exc}"), file=sys.stderr)
        return EXIT_REFUSED
    rows, cols = case.image.get("rows"), case.image.get("columns")
    if isinstance(rows, int) and isinstance(cols, int) and (rows, cols) != (radiograph.rows, radiograph.columns):
        print(_refuse_line(case_path, f"its film {film_path} is {radiograph.rows} x {radiograph.columns} pixels but "
                                      f"the landmarks were placed on a {rows} x {cols} image"), file=sys.stderr)
        return EXIT_REFUSED
    uid = str(case.image.get("sop_instance_uid") or "")
    if uid and radiograph.metadata.sop_instance_uid and uid != radiograph.metadata.sop_instance_uid:
        print(f"warning: {film_path} is not the image the case names (SOP Instance UID differs); "
              "check that it is the same film", file=sys.stderr)
    problem = check_logo(Path(args.logo)) if args.logo is not None else None
    if problem is not None:
        print(_refuse_line(args.logo, problem), file=sys.stderr)
        return EXIT_REFUSED
    out = Path(args.out) if args.out else _default_report_path(case_path)
    options = ReportOptions(
        paper=args.paper,
        anonymize=args.anonymize,
        keep_institution=args.keep_institution,
        clinic_name=args.clinic,
        clinic_logo=Path(args.logo) if args.logo is not None else None,
        reader=args.reader,
        joint_panels=not args.no_joint_views,
        planning=not args.no_planning,
    )
    try:
        info = build_report(case, case_path, radiograph, out, options, film_path=film_path, result=result)
    except ReportError as exc:
        print(_refuse_line(out, str(exc)), file=sys.stderr)
        return EXIT_REFUSED
    for warning in info.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{out} ({info.page_count} pages{', anonymised' if info.anonymized else ''})")
    return EXIT_OK


# --- info -------------------------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> int:
    from dicom_io.errors import FilmError
    from dicom_io.info import describe, format_description

    try:
        description = describe(Path(args.path))
    except FilmError as exc:
        print(_refuse_line(args.path, str(exc)), file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        print(json.dumps(description, indent=2, ensure_ascii=False, default=str))
    else:
        print(format_description(description))
    return EXIT_OK


# --- the application ----------------------------------------------------------------------------------


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from .gui.app import run_gui  # Qt is imported only here
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.gui.app":
            raise
        # The viewer is not part of this build yet: show what the engine gives on the bundled example.
        from resources import resource_path

        example = resource_path("examples", "worked_cases.case.json")
        print("The viewer is not available in this build; measuring the bundled example case instead.\n")
        return cmd_measure(argparse.Namespace(cases=[str(example)], json=False, csv=False))
    return run_gui(args.file)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deformity-app",
        description="Limb deformity analysis on long-leg radiographs. Without a command, opens the application "
        "(on FILE, or on the bundled demo film).",
    )
    parser.add_argument("--version", action="version", version=f"deformity-app {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation (decoders, resources, report, Qt): one line per check, "
                        "exit status 0 when all pass")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("measure", help="measure case files (a table, --json or --csv)")
    p.add_argument("cases", nargs="+", metavar="CASE", help="case files (*.case.json) or folders of them")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the JSON of case-format.md")
    fmt.add_argument("--csv", action="store_true", help="one row per limb, for research cohorts")
    p.set_defaults(func=cmd_measure)

    p = sub.add_parser("report", help="print the analysis of a case file to a PDF (film, lines, tables, joint views)")
    p.add_argument("case", metavar="CASE", help="a case file (*.case.json); its film is read from image.path")
    p.add_argument("--out", "-o", metavar="PDF", help="the PDF to write (default: beside the case, *.report.pdf)")
    p.add_argument("--anonymize", "--anonymise", action="store_true",
                   help="leave out the patient's name, ID, birth date, accession number, institution and file names")
    p.add_argument("--keep-institution", action="store_true", help="keep the institution in an anonymised report")
    p.add_argument("--paper", choices=("a4", "letter"), default="a4", help="paper size (default a4)")
    p.add_argument("--clinic", metavar="NAME", help="clinic name in the header (default: the settings)")
    p.add_argument("--logo", metavar="PNG", help="clinic logo in the header (default: the settings)")
    p.add_argument("--reader", metavar="NAME", help="who measured (default: the case's reader, else your user name)")
    p.add_argument("--no-joint-views", action="store_true", help="leave out the zoomed hip, knee and ankle views")
    p.add_argument("--no-planning", action="store_true", help="leave out the planning page of limbs with osteotomy plans")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("info", help="describe a film or a folder of films (size, spacing, calibration, metadata)")
    p.add_argument("path", metavar="FILE_OR_FOLDER")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    from .pacs_cli import add_pacs_parsers
    from .plan_cli import add_plan_parser
    from .practice_cli import add_practice_parsers

    add_plan_parser(sub)
    add_practice_parsers(sub)
    add_pacs_parsers(sub)

    p = sub.add_parser("gui", help="open the application (the default)")
    p.add_argument("file", nargs="?", help="a film (DICOM, PNG, JPEG, TIFF) or a case file")
    p.set_defaults(func=cmd_gui)
    return parser


_COMMANDS = {"measure", "plan", "report", "info", "score", "agreement", "pacs", "export", "gui", "-h", "--help", "--version", "--self-test"}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from .logs import describe_runtime, setup_logging

    setup_logging()  # warnings on standard error, everything in the user's log file, no patient data
    log.info("%s: %s", describe_runtime(), argv[0] if argv and argv[0] in _COMMANDS else "gui")  # never a path
    if not argv or argv[0] not in _COMMANDS:
        argv = ["gui", *argv]  # `deformity-app FILE` opens the file in the application
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.self_test:
            from .selftest import run_self_test

            return run_self_test()
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the edge: a bug must still not print a traceback at a clinician
        log.debug("internal error", exc_info=True)
        print(f"deformity-app: internal error ({type(exc).__name__}: {exc}); please report it", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
