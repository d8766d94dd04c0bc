"""The `plan` command: CORA, osteotomy plans and growth from case files (shared/spec/planning.md).

`deformity-app plan CASE.json [--json | --csv]`: a readable summary by default, the spec's JSON with
`--json`, one row per plan with `--csv`. Refusals as `measure`: one line `PATH: reason` on standard
error and exit status 2, never a traceback. Qt is never imported.

Wiring into `cli.py`: `add_plan_parser(sub)` in `build_parser`, and "plan" in `_COMMANDS`.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

from .cli import EXIT_INTERNAL, EXIT_OK, EXIT_REFUSED, Refused, case_files

log = logging.getLogger(__name__)

SUMMARY_KEYS = ("mad_mm", "mfta_deg", "mlpfa_deg", "mldfa_deg", "mpta_deg", "ldta_deg", "jlca_deg", "limb_length_mm")
REFERENCE_LABELS = {"mlpfa_deg": "mLPFA", "mldfa_deg": "mLDFA", "mpta_deg": "MPTA", "ldta_deg": "LDTA"}
SOURCE_WORDS = {"user": "set by the user", "contralateral": "other limb", "normal": "normal mean"}
JOINT_WORDS = {"femur": ("hip centre", "knee centre"), "tibia": ("knee centre", "ankle centre")}


def _load_and_plan(path: Path):
    from measurements.case import CaseError, load_case
    from measurements.measure import measure_case
    from measurements.planning import plan_case

    try:
        case = load_case(path)
        return case, plan_case(case), measure_case(case)
    except CaseError as exc:  # includes PlanInputError
        raise Refused(f"{path}: {exc}") from None


# --- the readable summary -----------------------------------------------------------------------------


def _signed(value: float, unit: str, plus: str, minus: str) -> str:
    if round(value, 1) == 0:
        return f"0.0 {unit}"
    return f"{abs(value):.1f} {unit} {plus if value > 0 else minus}"


def _length(data: dict[str, Any], stem: str) -> tuple[float | None, str]:
    for unit in ("mm", "px"):
        if f"{stem}_{unit}" in data:
            return data[f"{stem}_{unit}"], unit
    return None, ""


def _cora_lines(bone: str, cora: dict[str, Any]) -> list[str]:
    name = bone.capitalize()
    if "unavailable" in cora:
        return [f"{name} CORA: — ({cora['unavailable']})"]
    if cora["direction"] == "none":
        value, unit = _length(cora, "translation")
        text = f"{name} CORA: none (angulation {cora['angle_deg']:.1f}°, under 2°)"
        if value is not None:
            text += (f"; the {JOINT_WORDS[bone][1]} lies {_signed(value, unit, 'medial', 'lateral')} of the proximal "
                     "axis line (a translation when large)")
        return [text]
    prox, unit = _length(cora, "from_proximal")
    dist, _ = _length(cora, "from_distal")
    offset, _ = _length(cora, "offset")
    proximal_word, distal_word = JOINT_WORDS[bone]
    lines = [
        f"{name} CORA: {abs(cora['angle_deg']):.1f}° {cora['direction']}, "
        f"{prox:.1f} {unit} below the {proximal_word}, {dist:.1f} {unit} above the {distal_word}, "
        f"{_signed(offset, unit, 'lateral', 'medial')} of the line between them "
        f"(at pixel {cora['cora_px'][0]:.1f}, {cora['cora_px'][1]:.1f})"
    ]
    lines += [f"  Note: {note}" for note in cora.get("notes", [])]
    return lines


def _value_table(side, current, predicted: dict[str, Any], wbl_now: float | None) -> list[str]:
    from measurements.measure import LimbResult
    from measurements.normals import default_normals
    from measurements.present import LABELS, format_value, normal_text

    normals = default_normals()
    after = LimbResult(side, values={k: v for k, v in predicted.items() if k != "wbl_pct"})
    for key, value in after.values.items():
        flag = normals.flag(key, value)
        if flag is not None:
            after.flags[key] = flag

    def flagged(result, key: str) -> str:
        text = format_value(key, result) or "—"
        flag = result.flags.get(key)
        return text + ("" if flag is None or str(flag) == "normal" else f" ({str(flag).upper()})")

    rows = [f"{'':6}{'Measurement':<16}{'Current':>22}{'Predicted':>22}  Normal"]
    for key in SUMMARY_KEYS:
        rows.append(f"{'':6}{LABELS[key]:<16}{flagged(current, key):>22}{flagged(after, key):>22}  "
                    f"{normal_text(key, normals) if not key.startswith('limb_length') else ''}".rstrip())
    now = "—" if wbl_now is None else f"{wbl_now:.1f} %"
    then = "—" if "wbl_pct" not in predicted else f"{predicted['wbl_pct']:.1f} %"
    rows.append(f"{'':6}{'WBL':<16}{now:>22}{then:>22}  Fujisawa point 62.5 %")
    return rows


def _plan_lines(index: int, plan: dict[str, Any], side, current, wbl_now: float | None) -> list[str]:
    title = f"Plan {index + 1}: {plan['name']!r} ({plan.get('bone')})"
    if "unavailable" in plan:
        return [f"{title}: unavailable ({plan['unavailable']})"]
    angle = plan["angle_deg"]
    turn = f"{abs(angle):.1f}° toward {'valgus' if angle >= 0 else 'varus'}"
    if plan["angle_source"] == "solved":
        key, value = next(iter(plan["target"].items()))
        turn += f", solved for {'WBL' if key == 'wbl_pct' else 'MAD'} {value:g} {'%' if key == 'wbl_pct' else 'mm'}"
    lines = [title, f"  Correction: {turn}"]
    if plan.get("translation_mm"):
        lines.append(f"  Translation along the cut: {plan['translation_mm']:.1f} mm toward lateral")
    hb, unit = _length(plan, "hinge_to_bisector")
    cc, _ = _length(plan, "cut_to_cora")
    if plan["rule"] is None:
        lines.append("  Paley rule: — (the bone has no CORA)")
    else:
        meaning = {1: "hinge on the bisector, cut through the CORA",
                   2: "hinge on the bisector, cut away from the CORA: the fragments translate at the cut",
                   3: "hinge off the bisector: a secondary translation deformity"}[plan["rule"]]
        lines.append(f"  Paley rule {plan['rule']} ({meaning}); hinge {hb:.1f} {unit} from the bisector line, "
                     f"cut {cc:.1f} {unit} from the CORA")
    opening, unit = _length(plan, "opening")
    lines.append(f"  Wedge: {plan['wedge']} (medial end {opening['medial']:+.1f} {unit}, lateral end "
                 f"{opening['lateral']:+.1f} {unit}; + opens, - overlaps)")
    axis, unit = _length(plan, "axis_translation")
    if axis is not None:
        basis = "" if plan.get("axis_translation_basis") == "cora" else " (measured at the distal joint centre)"
        lines.append(f"  Axis translation: {_signed(axis, unit, 'medial', 'lateral')}{basis}")
    change, unit = _length(plan, "length_change")
    if change is not None:
        lines.append(f"  Length change: {change:+.1f} {unit}")
    lines += _value_table(side, current, plan["predicted"], wbl_now)
    return lines


def _growth_lines(result: dict[str, Any]) -> list[str]:
    growth = result.get("growth")
    if growth is None:
        return [f"Growth: — ({result.get('unavailable', {}).get('growth', 'not available')})"]
    lld, at = growth["lld_mm"], growth["lld_at_maturity_mm"]

    def side_word(v: float) -> str:
        return "" if round(v) == 0 else f" ({'right' if v > 0 else 'left'} longer)"

    remaining = growth["growth_remaining_mm"]
    return [
        f"Growth (multiplier method, Paley et al. 2000): {growth['sex']}, {growth['age_years']:g} years, "
        f"multiplier {growth['multiplier']:.3f}",
        f"  LLD now {abs(lld):.1f} mm{side_word(lld)}; at maturity {abs(at):.1f} mm{side_word(at)}",
        f"  Growth remaining: right {remaining['right']:.0f} mm, left {remaining['left']:.0f} mm",
        f"  {growth['note']}",
    ]


def plan_summary(path: Path | str, case, result: dict[str, Any], measured) -> str:
    """The readable `plan` output for one case."""
    from measurements.landmarks import Side
    from measurements.present import calibration_text

    out = io.StringIO()
    caveat = str(case.calibration_extra.get("caveat", "")) if case.calibrated else ""
    out.write(f"{path}\n")
    out.write(f"  Calibration: {calibration_text(result['calibration']['source'], case.pixel_spacing_mm, caveat)}\n")
    for warning in result.get("warnings", []):
        out.write(f"  Warning: {warning}\n")
    if not result["limbs"]:
        out.write("  No limb has landmarks yet.\n")
    for side in (Side.RIGHT, Side.LEFT):
        limb = result["limbs"].get(str(side))
        if limb is None:
            continue
        lines = [
            "Reference angles: " + ", ".join(
                f"{REFERENCE_LABELS[k]} {v:.1f}° ({SOURCE_WORDS[limb['reference_source'][k]]})"
                for k, v in limb["reference_deg"].items()),
        ]
        wbl_now = limb.get("wbl_pct")
        if wbl_now is None:
            lines.append(f"WBL: — ({limb['unavailable'].get('wbl_pct', 'not available')})")
        else:
            lines.append(f"WBL: {wbl_now:.1f} % of the plateau from its medial edge (Fujisawa point 62.5 %)")
        for bone in ("femur", "tibia"):
            lines += _cora_lines(bone, limb["cora"][bone])
        if not limb["plans"]:
            lines.append("No osteotomy plan.")
        current = measured.limbs[side]
        for i, plan in enumerate(limb["plans"]):
            lines += _plan_lines(i, plan, side, current, wbl_now)
        out.write(f"\n  {side.label} limb\n")
        out.writelines(f"    {line}\n" for line in lines)
    out.write("\n")
    out.writelines(f"  {line}\n" for line in _growth_lines(result))
    out.write("\n  Angles to 0.1°, lengths to 1 mm; readers differ by about 1.1-1.4° and 3.3 mm "
              "(Braun et al. 2023).\n")
    return out.getvalue()


# --- CSV ----------------------------------------------------------------------------------------------

CSV_VALUE_KEYS = ("mad_mm", "mad_px", "mfta_deg", "mlpfa_deg", "mldfa_deg", "mpta_deg", "ldta_deg", "jlca_deg",
                  "limb_length_mm", "limb_length_px", "wbl_pct")
CSV_LENGTH_STEMS = ("opening_medial", "opening_lateral", "axis_translation", "length_change", "hinge_to_bisector",
                    "cut_to_cora")
CSV_COLUMNS = (
    ("case_file", "limb", "plan", "bone", "unavailable", "angle_deg", "angle_source", "target", "target_value",
     "translation_mm", "rule", "wedge")
    + tuple(f"{stem}_{unit}" for stem in CSV_LENGTH_STEMS for unit in ("mm", "px"))
    + ("axis_translation_basis", "cora_angle_deg", "cora_direction")
    + tuple(f"current_{k}" for k in CSV_VALUE_KEYS)
    + tuple(f"predicted_{k}" for k in CSV_VALUE_KEYS)
    + tuple(f"reference_{k}" for k in REFERENCE_LABELS)
    + ("calibration_source",)
)


def _csv_rows(path: Path, result: dict[str, Any], measured) -> list[dict[str, Any]]:
    from measurements.landmarks import Side

    rows = []
    for side_word, limb in result["limbs"].items():
        current = dict(measured.limbs[Side(side_word)].values)
        if "wbl_pct" in limb:
            current["wbl_pct"] = limb["wbl_pct"]
        for plan in limb["plans"]:
            row: dict[str, Any] = {c: "" for c in CSV_COLUMNS}
            row.update(case_file=str(path), limb=side_word, plan=plan["name"], bone=plan.get("bone") or "",
                       calibration_source=result["calibration"]["source"])
            for k, v in limb["reference_deg"].items():
                row[f"reference_{k}"] = v
            cora = limb["cora"].get(plan.get("bone"), {})
            row["cora_angle_deg"] = cora.get("angle_deg", "")
            row["cora_direction"] = cora.get("direction", "")
            for k in CSV_VALUE_KEYS:
                if k in current:
                    row[f"current_{k}"] = round(current[k], 3) + 0.0
            if "unavailable" in plan:
                row["unavailable"] = plan["unavailable"]
                rows.append(row)
                continue
            row.update(angle_deg=plan["angle_deg"], angle_source=plan["angle_source"],
                       translation_mm=plan.get("translation_mm", ""),
                       rule="" if plan["rule"] is None else plan["rule"], wedge=plan["wedge"],
                       axis_translation_basis=plan.get("axis_translation_basis") or "")
            if "target" in plan:
                key, value = next(iter(plan["target"].items()))
                row.update(target=key, target_value=value)
            for unit in ("mm", "px"):
                opening = plan.get(f"opening_{unit}")
                if opening is not None:
                    row[f"opening_medial_{unit}"] = opening["medial"]
                    row[f"opening_lateral_{unit}"] = opening["lateral"]
                for stem in CSV_LENGTH_STEMS[2:]:
                    value = plan.get(f"{stem}_{unit}")
                    if value is not None:
                        row[f"{stem}_{unit}"] = value
            for k in CSV_VALUE_KEYS:
                if k in plan["predicted"]:
                    row[f"predicted_{k}"] = plan["predicted"][k]
            rows.append(row)
    return rows


# --- the command --------------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    """Run `plan` on the case files of `args.cases`; 0 on success, 2 when a file is refused."""
    refused = 0
    try:
        files = case_files(args.cases)
    except Refused as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REFUSED
    outputs = []
    for path in files:
        try:
            case, result, measured = _load_and_plan(path)
        except Refused as exc:
            print(str(exc), file=sys.stderr)
            refused += 1
            continue
        outputs.append((path, case, result, measured))
    if args.json:
        if len(files) == 1 and outputs:
            print(json.dumps(outputs[0][2], indent=2, ensure_ascii=False))
        elif outputs:
            print(json.dumps([{"case_file": str(p), **r} for p, _c, r, _m in outputs], indent=2, ensure_ascii=False))
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for path, _case, result, measured in outputs:
            writer.writerows(_csv_rows(path, result, measured))
    else:
        sys.stdout.write("\n".join(plan_summary(p, c, r, m) for p, c, r, m in outputs))
    return EXIT_REFUSED if refused else EXIT_OK


def add_plan_parser(subparsers) -> argparse.ArgumentParser:
    """Register `plan CASE... [--json | --csv]` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "plan", help="CORA, osteotomy plans and growth of case files (a summary, --json or --csv)")
    p.add_argument("cases", nargs="+", metavar="CASE", help="case files (*.case.json) or folders of them")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the JSON of planning.md")
    fmt.add_argument("--csv", action="store_true", help="one row per plan")
    p.set_defaults(func=cmd_plan)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry for tests and scripts: `python -m deformity_app.plan_cli plan CASE.json [--json]`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="deformity-app")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_plan_parser(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the edge: a bug must still not print a traceback at a clinician
        log.debug("internal error", exc_info=True)
        print(f"deformity-app: internal error ({type(exc).__name__}: {exc}); please report it", file=sys.stderr)
        return EXIT_INTERNAL


main_for_tests = main

if __name__ == "__main__":
    sys.exit(main())
