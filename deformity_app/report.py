"""The printed analysis: a PDF for the chart and the patient, built with reportlab (no Qt).

Page 1 carries the header (clinic, patient, study, reader), the whole film with the analysis drawn
over it and the findings; page 2 the measurement tables, one per limb, with the normal ranges,
flags, the malalignment test, the limb-length discrepancy, the calibration and the notes on
precision; page 3 zoomed views of each hip, knee and ankle; then, for each limb with osteotomy plans
(`limbs.<side>.plans`, shared/spec/planning.md), a planning page: the CORA of each bone, the limb
before (CORA construction, cuts, hinges) and after each plan (the distal fragment of the film moved
through the plan's affine, the predicted lines and angles), each plan's correction (angle, Paley's
rule, wedge, translation left, length change), current against predicted values, and the growth
prediction.

The lines, arcs and labels are those of :func:`measurements.overlay.build_overlay` (the same data
the viewer draws), drawn as PDF vectors in image coordinates mapped to the page; the film under them
is windowed and resampled to about 250 dpi at its printed size and embedded as JPEG. Every value is
written by :mod:`measurements.present`, so the report says exactly what the command line and the
viewer say.

Text is set in DejaVu Sans; characters it lacks (Japanese, Chinese, Korean names) in Droid Sans
Fallback. Both are bundled in ``resources/fonts`` and embedded as subsets.
"""
from __future__ import annotations

import configparser
import datetime as _dt
import getpass
import io
import logging
import math
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence
from xml.sax.saxutils import escape as _xml_escape

import cv2
import numpy as np
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (BaseDocTemplate, Flowable, Frame, FrameBreak, KeepTogether,
                                NextPageTemplate, PageBreak, PageTemplate, Paragraph, Spacer, Table, TableStyle)

from measurements.case import USUAL_FILE_MODE, Case, CaseError, Limb
from measurements.landmarks import LANDMARK_INFO, Side
from measurements.measure import (A, CL, CM, DL, DM, F1, F2, GT, H, K, N, PL, PM, T, CaseResult, LimbResult,
                                  measure_case)
from measurements.overlay import ROLE_RGB, Label, Layer, Overlay, Polyline, build_overlay
from measurements.planning import fragment_band_px
from measurements.planning import (TS1, TS2, Bone, Cora, PlanUnavailable, ReferenceAngles, Simulation, find_cora,
                                   parse_plan, plan_case, reference_angles, simulate, wbl_pct)
from measurements.present import (DESCRIPTIONS, LABELS, TABLE_KEYS, calibration_text, flag_text, format_value,
                                  normal_text)

from . import __version__
from .plan_cli import JOINT_WORDS, SOURCE_WORDS  # the `plan` command's words, so that both say the same

log = logging.getLogger(__name__)

__all__ = [
    "ReportError",
    "ReportInfo",
    "ReportOptions",
    "PrintedHeader",
    "ReportSettings",
    "build_report",
    "check_logo",
    "printed_header",
    "film_path_of",
    "format_person_name",
    "load_report_settings",
    "settings_path",
]

PAPERS: dict[str, tuple[float, float]] = {"a4": A4, "letter": LETTER}
TITLE = "Long-leg alignment analysis"
OBSERVER_NOTE = ("Angles are given to 0.1° and lengths to 1 mm; readers differ by about 1.1-1.4° for the main "
                 "angles and 3.3 mm for MAD (Braun et al. 2023, SEM95), so smaller differences are within "
                 "observer error. JLCA is the least reliable measure.")
ANONYMISED_CASE = "anonymised case"


class ReportError(Exception):
    """A report that cannot be made; `str()` is a sentence for the user (no patient data)."""


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """What the user chose for one report.

    `clinic_name`, `clinic_logo` and `reader` left at None come from the settings file, the case
    (key ``reader``) and the operating-system user. `window` (centre, width in modality values)
    overrides the film's first window preset (or its automatic window).
    """

    paper: str = "a4"  # "a4" or "letter"
    anonymize: bool = False
    keep_institution: bool = False  # keep the institution in an anonymised report
    clinic_name: str | None = None
    clinic_logo: Path | None = None
    reader: str | None = None
    joint_panels: bool = True
    planning: bool = True  # a planning page for each limb with osteotomy plans
    layers: frozenset[Layer] = frozenset(Layer)
    window: tuple[float, float] | None = None
    dpi: int = 250  # film resolution at its printed size
    measured_at: _dt.datetime | None = None  # default: the case's `measured_at`, else its file's time


@dataclass(frozen=True, slots=True)
class ReportInfo:
    path: Path
    page_count: int
    size_bytes: int
    anonymized: bool
    panels: tuple[str, ...] = ()  # e.g. ("Right hip", "Right knee", ...)
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0


# --- settings ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportSettings:
    clinic_name: str = ""
    clinic_logo: Path | None = None


def settings_path() -> Path:
    """The application's settings file (the GUI's QSettings INI file)."""
    from .paths import user_dir

    return user_dir("config") / "settings.ini"


def _ini_value(raw: str) -> str:
    """A QSettings INI value as text: quotes removed, Qt's \\xNNNN and backslash escapes undone."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    value = re.sub(r"\\x([0-9a-fA-F]{1,4})", lambda m: chr(int(m.group(1), 16)), value)
    return value.replace('\\"', '"').replace("\\\\", "\\")


def load_report_settings(path: Path | None = None) -> ReportSettings:
    """`report/clinic_name` and `report/clinic_logo` of the settings INI file (empty when absent)."""
    path = path or settings_path()
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError) as exc:
        log.warning("settings file %s cannot be read: %s", path, exc)
        return ReportSettings()
    if not parser.has_section("report"):
        return ReportSettings()
    name = _ini_value(parser.get("report", "clinic_name", fallback=""))
    logo = _ini_value(parser.get("report", "clinic_logo", fallback=""))
    return ReportSettings(name, Path(logo).expanduser() if logo else None)


def check_logo(path: Path) -> str | None:
    """Why `path` cannot be printed as the clinic logo (a sentence), or None when it can."""
    if not Path(path).is_file():
        return "logo file not found"
    try:
        width, height = ImageReader(str(path)).getSize()
    except Exception:  # noqa: BLE001 - whatever the image library rejects
        return "the logo cannot be read as an image (use a PNG or JPEG file)"
    if width <= 0 or height <= 0:
        return "the logo image is empty"
    return None


# --- fonts ---------------------------------------------------------------------------------------------

REGULAR, BOLD, CJK = "DejaVuSans", "DejaVuSans-Bold", "DroidSansFallback"
_FONT_FILES = {
    REGULAR: ("DejaVuSans.ttf", ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)),
    BOLD: ("DejaVuSans-Bold.ttf", ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",)),
    CJK: ("DroidSansFallback.ttf", ("/usr/share/fonts-droid-fallback/truetype/DroidSansFallback.ttf",
                                    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")),
}


class _Fonts:
    """The registered fonts and what each covers; the CJK font is loaded on first need only."""

    def __init__(self) -> None:
        self.regular, self.bold = REGULAR, BOLD
        self.cover: set[int] = set()
        self.cjk: str | None = None
        self.cjk_cover: set[int] = set()
        self._cjk_tried = False
        self.warnings: list[str] = []
        if self._register(REGULAR) and self._register(BOLD):
            self.cover = set(pdfmetrics.getFont(REGULAR).face.charToGlyph)
            pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)
        else:  # a broken install: the standard fonts print Latin-1 only
            self.regular, self.bold = "Helvetica", "Helvetica-Bold"
            self.cover = set(range(32, 256))
            self.warnings.append("The report font (DejaVu Sans) was not found; only Latin text prints correctly.")

    @staticmethod
    def _find(name: str) -> Path | None:
        from resources import resource_path

        bundled, system = _FONT_FILES[name]
        for candidate in (resource_path("fonts", bundled), *map(Path, system)):
            if candidate.is_file():
                return candidate
        return None

    def _register(self, name: str) -> bool:
        if name in pdfmetrics.getRegisteredFontNames():
            return True
        path = self._find(name)
        if path is None:
            return False
        try:
            pdfmetrics.registerFont(TTFont(name, str(path)))
        except Exception as exc:  # noqa: BLE001 - a damaged font file must not stop the report
            log.warning("font %s cannot be used: %s", path, exc)
            return False
        return True

    def need_cjk(self) -> str | None:
        if not self._cjk_tried:
            self._cjk_tried = True
            if self._register(CJK):
                self.cjk = CJK
                self.cjk_cover = set(pdfmetrics.getFont(CJK).face.charToGlyph)
                pdfmetrics.registerFontFamily(CJK, normal=CJK, bold=CJK, italic=CJK, boldItalic=CJK)
            else:
                self.warnings.append("The font for Japanese, Chinese and Korean text (Droid Sans Fallback) was "
                                     "not found; such characters print as blanks.")
        return self.cjk

    def runs(self, text: str, bold: bool = False) -> list[tuple[str, str]]:
        """`text` cut into (font name, piece) runs: the Latin font where it has the glyph, else the CJK one."""
        base = self.bold if bold else self.regular
        out: list[tuple[str, str]] = []
        for ch in text:
            font = base
            if ch.isspace() and out and ord(ch) in (self.cjk_cover if out[-1][0] == self.cjk else self.cover):
                font = out[-1][0]  # a space inside a run of names stays in that run's font
            elif ord(ch) not in self.cover:
                cjk = self.need_cjk()
                if cjk and ord(ch) in self.cjk_cover:
                    font = cjk
            if out and out[-1][0] == font:
                out[-1] = (font, out[-1][1] + ch)
            else:
                out.append((font, ch))
        return out

    def markup(self, text: str, bold: bool = False) -> str:
        """Paragraph markup of plain `text`: escaped, with CJK runs in the fallback font."""
        parts = []
        for font, piece in self.runs(text):
            piece = _xml_escape(piece)
            parts.append(piece if font in (self.regular, self.bold) else f'<font face="{font}">{piece}</font>')
        joined = "".join(parts)
        return f"<b>{joined}</b>" if bold else joined

    def width(self, text: str, size: float, bold: bool = False) -> float:
        return sum(pdfmetrics.stringWidth(piece, font, size) for font, piece in self.runs(text, bold))

    def draw(self, c: rl_canvas.Canvas, x: float, y: float, text: str, size: float, *, bold: bool = False,
             align: str = "left") -> None:
        """Draw one line of `text` with its baseline at `y`; `align` "left", "right" or "centre"."""
        if align != "left":
            w = self.width(text, size, bold)
            x -= w if align == "right" else w / 2.0
        for font, piece in self.runs(text, bold):
            c.setFont(font, size)
            c.drawString(x, y, piece)
            x += pdfmetrics.stringWidth(piece, font, size)


_fonts: _Fonts | None = None


def _get_fonts() -> _Fonts:
    global _fonts
    if _fonts is None:
        _fonts = _Fonts()
    return _fonts


# --- patient and study text --------------------------------------------------------------------------


def format_person_name(pn: str) -> str:
    """A DICOM person name for print: "DOE^JOHN" -> "DOE, JOHN"; the ideographic and phonetic
    versions ("=" groups) follow in parentheses, family name first without a comma."""
    groups = [g for g in str(pn or "").split("=")]
    out: list[str] = []
    for i, group in enumerate(groups):
        parts = [p.strip() for p in group.split("^")]
        parts += [""] * (5 - len(parts))
        family, given, middle, prefix, suffix = parts[:5]
        if not any(parts):
            continue
        if i == 0:
            first = " ".join(p for p in (given, middle) if p)
            text = ", ".join(p for p in (family, first) if p)
            text = " ".join(p for p in (prefix, text, suffix) if p)
        else:
            text = " ".join(p for p in (family, given, middle) if p)
        out.append(text)
    if not out:
        return ""
    return out[0] if len(out) == 1 else f"{out[0]} ({'; '.join(out[1:])})"


def _iso_date(value: str) -> str:
    value = str(value or "").strip()
    if re.fullmatch(r"\d{8}", value):
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def _age_years(birth: str, on: str) -> int | None:
    try:
        b = _dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
        d = _dt.date(int(on[:4]), int(on[4:6]), int(on[6:8]))
    except (ValueError, IndexError):
        return None
    years = d.year - b.year - ((d.month, d.day) < (b.month, b.day))
    return years if 0 <= years < 130 else None


_SEX = {"M": "Male", "F": "Female", "O": "Other"}
_LATERALITY = {"R": "right", "L": "left", "B": "both", "U": "unpaired"}


@dataclass(frozen=True, slots=True)
class PrintedHeader:
    """The identifying and descriptive fields as printed (already anonymised when asked)."""

    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    study_date: str
    accession: str
    view: str
    institution: str
    film_name: str
    sop_uid: str
    reader: str
    measured: str
    case_label: str
    clinic_name: str


def _meta(metadata: Any, name: str) -> str:
    value = getattr(metadata, name, "") if metadata is not None else ""
    return "" if value is None else str(value).strip()


def printed_header(case: Case, case_path: Path | None, metadata: Any, film_path: Path | None,
                   options: ReportOptions, clinic_name: str = "", now: _dt.datetime | None = None) -> PrintedHeader:
    """The header fields exactly as the report prints them, anonymised when `options` says so
    (the export dialog previews these)."""
    now = now or _dt.datetime.now()
    dash = "—"
    birth = _meta(metadata, "birth_date")
    study = _meta(metadata, "study_date")
    view_parts = [_meta(metadata, "view_position")]
    lat = _meta(metadata, "laterality")
    if lat:
        view_parts.append(_LATERALITY.get(lat.upper(), lat))
    reader = options.reader or case_reader(case) or _os_user()
    measured_raw = str(case.extra.get("measured_at") or "").strip()
    if options.measured_at is not None:
        measured = options.measured_at.strftime("%Y-%m-%d %H:%M")
    elif measured_raw:
        measured = measured_raw.replace("T", " ")[:16]
    elif case_path is not None and case_path.exists():
        measured = _dt.datetime.fromtimestamp(case_path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    else:
        measured = now.strftime("%Y-%m-%d %H:%M")
    sex = _SEX.get(_meta(metadata, "sex").upper(), _meta(metadata, "sex"))
    if options.anonymize:
        institution = _meta(metadata, "institution") if options.keep_institution else ""
        return PrintedHeader(
            patient_name="Anonymised", patient_id=dash, birth_date=dash, sex=sex or dash,
            study_date=study[:4] if re.fullmatch(r"\d{8}", study) else dash,
            accession=dash, view=" · ".join(p for p in view_parts if p) or dash, institution=institution or dash,
            film_name="", sop_uid="", reader=reader, measured=measured, case_label=ANONYMISED_CASE,
            clinic_name=clinic_name,
        )
    age = _age_years(birth, study)
    view_parts.append(_meta(metadata, "study_description"))
    return PrintedHeader(
        patient_name=format_person_name(_meta(metadata, "patient_name")) or dash,
        patient_id=_meta(metadata, "patient_id") or dash,
        birth_date=(_iso_date(birth) + (f" (age {age} at the study)" if age is not None else "")) if birth else dash,
        sex=sex or dash,
        study_date=_iso_date(study) or dash,
        accession=_meta(metadata, "accession_number") or dash,
        view=" · ".join(p for p in view_parts if p) or dash,
        institution=_meta(metadata, "institution") or dash,
        film_name=film_path.name if film_path is not None else "",
        sop_uid=_meta(metadata, "sop_instance_uid") or str(case.image.get("sop_instance_uid") or ""),
        reader=reader, measured=measured,
        case_label=case_path.name if case_path is not None else "unsaved case",
        clinic_name=clinic_name,
    )


def case_reader(case: Case) -> str:
    """Who measured the case: `reader` is a name, or practice.md's {"name": ..., "session": ...}."""
    raw = case.extra.get("reader")
    if isinstance(raw, dict):
        raw = raw.get("name")
    return str(raw or "").strip()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in a container is not an error worth stopping for
        return "unknown"


def film_path_of(case: Case, case_path: Path | None) -> Path | None:
    """The film a case names: `image.path`, relative to the case file's folder (or absolute)."""
    raw = case.image.get("path")
    if not raw:
        return None
    p = Path(str(raw)).expanduser()
    if p.is_absolute() or case_path is None:
        return p
    return case_path.parent / p


# --- the film as a picture --------------------------------------------------------------------------


def _display_window(radiograph: Any, override: tuple[float, float] | None) -> tuple[float, float] | None:
    """(low, high) modality values shown black and white, or None for a VOI LUT / colour film."""
    if override is not None:
        c, w = override
        return c - max(w, 1e-6) / 2.0, c + max(w, 1e-6) / 2.0
    presets = tuple(getattr(radiograph, "window_presets", ()) or ())
    if presets:
        return presets[0].center - presets[0].width / 2.0, presets[0].center + presets[0].width / 2.0
    if getattr(radiograph, "voi_lut", None) is not None:
        return None
    auto = getattr(radiograph, "auto_window", None)
    if auto is not None:
        return auto.center - auto.width / 2.0, auto.center + auto.width / 2.0
    pixels = radiograph.pixels
    step = max(1, int(math.sqrt(pixels.shape[0] * pixels.shape[1] / 250_000)))
    lo, hi = np.percentile(pixels[::step, ::step], [0.5, 99.5])
    return float(lo), float(max(hi, lo + 1))


_CV_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)


def render_region(radiograph: Any, x0: int, y0: int, x1: int, y1: int, out_w: int, out_h: int,
                  window: tuple[float, float] | None = None) -> np.ndarray:
    """The display of pixels `[y0:y1, x0:x1]` (indices; may reach past the film, shown black),
    resampled to `out_w` x `out_h` and windowed: uint8 grey (h, w) or RGB (h, w, 3).

    Resampling comes first (area averaging when shrinking, so a 50-megapixel film costs a single
    pass), the window after, on the small picture only.
    """
    pixels = radiograph.pixels
    rows, cols = pixels.shape[:2]
    color = pixels.ndim == 3
    out = np.zeros((out_h, out_w, 3) if color else (out_h, out_w), np.uint8)
    ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x1, cols), min(y1, rows)
    if ix1 <= ix0 or iy1 <= iy0 or out_w <= 0 or out_h <= 0:
        return out
    sx, sy = out_w / (x1 - x0), out_h / (y1 - y0)
    ox0, oy0 = int(round((ix0 - x0) * sx)), int(round((iy0 - y0) * sy))
    ox1, oy1 = int(round((ix1 - x0) * sx)), int(round((iy1 - y0) * sy))
    tw, th = max(ox1 - ox0, 1), max(oy1 - oy0, 1)
    sub = pixels[iy0:iy1, ix0:ix1]
    if sub.dtype.type not in _CV_DTYPES:
        sub = sub.astype(np.float32)
    shrinking = tw < sub.shape[1] or th < sub.shape[0]
    small = cv2.resize(np.ascontiguousarray(sub), (tw, th),
                       interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    if color:
        shown = small if small.dtype == np.uint8 else np.clip(small, 0, 255).astype(np.uint8)
    else:
        win = window if window is not None else _display_window(radiograph, None)
        if win is None:  # the film's VOI LUT
            lut = radiograph.voi_lut
            values = lut.apply(np.rint(small)).astype(np.float32)
            scaled = values * (255.0 / max((1 << int(lut.bits)) - 1, 1))
        else:
            lo, hi = win
            scaled = (small.astype(np.float32) - lo) * (255.0 / max(hi - lo, 1e-6))
        np.clip(scaled, 0, 255, out=scaled)
        shown = scaled.astype(np.uint8)
        if getattr(radiograph, "invert_display", False):
            shown = 255 - shown
    out[oy0:oy0 + th, ox0:ox0 + tw] = shown[: out_h - oy0, : out_w - ox0]
    return out


def _jpeg(picture: np.ndarray, quality: int = 85) -> ImageReader:
    if picture.ndim == 3:
        picture = cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 array
        raise ReportError("The film could not be encoded for the report.")
    return ImageReader(io.BytesIO(data.tobytes()))


# --- drawing the overlay ---------------------------------------------------------------------------------

# The viewer's colours (deformity_app/gui/scene_items.py), so that the paper looks like the screen.
ROLE_COLOURS: dict[str, tuple[int, int, int]] = {
    **ROLE_RGB,
    # planning (the viewer's colours of deformity_app/gui/planning.py)
    "cora_axis": (255, 90, 220),
    "cora_bisector": (255, 90, 220),
    "osteotomy": (255, 160, 40),
    "current_axis": (215, 215, 215),
}
BOLD_ROLES = frozenset({"mechanical_axis", "mad", "osteotomy"})  # drawn at the style's axis width
ABNORMAL_RGB = (255, 60, 60)
SIDE_RGB = {Side.RIGHT: (80, 200, 255), Side.LEFT: (255, 190, 60)}
LEGEND = (
    ("Mechanical axis (hip to ankle)", "mechanical_axis", False),
    ("Femoral and tibial mechanical axes", "femoral_mechanical_axis", True),
    ("Joint lines", "femoral_joint_line", False),
    ("Anatomic and neck axes", "femoral_anatomic_axis", False),
    ("MAD (knee centre to mechanical axis)", "mad", False),
    ("Outside the normal range", "", False),
)


def _rgb(t: tuple[int, int, int]) -> colors.Color:
    return colors.Color(t[0] / 255.0, t[1] / 255.0, t[2] / 255.0)


@dataclass(frozen=True, slots=True)
class _Mapping:
    """Image pixel coordinates -> page points for a picture of pixels `[v0:, u0:]` drawn with its
    top-left corner at (`left`, `top`) and `scale` points per pixel. A pixel index `i` covers
    `[i - 0.5, i + 0.5]` in image coordinates, so the centre of pixel `u0` sits half a pixel in."""

    u0: float
    v0: float
    left: float
    top: float
    scale: float

    def __call__(self, x: float, y: float) -> tuple[float, float]:
        return (self.left + (x + 0.5 - self.u0) * self.scale, self.top - (y + 0.5 - self.v0) * self.scale)


@dataclass(frozen=True, slots=True)
class _Style:
    line_width: float
    axis_width: float
    font_size: float
    marker: float  # landmark marker radius, points (0: none)


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _draw_overlay(c: rl_canvas.Canvas, overlay: Overlay, mapping: _Mapping, clip: tuple[float, float, float, float],
                  style: _Style, fonts: _Fonts, landmarks: Iterable[tuple[Side, tuple[float, float]]] = (),
                  only_inside: bool = False) -> None:
    """Draw the overlay's polylines and labels (and landmark markers) clipped to `clip` (x0, y0, x1, y1).

    Labels are moved inside the clip where they would cross its edge; with `only_inside`, labels
    whose anchor lies outside the clip are left out (a zoomed view shows its own joint's labels).
    """
    x0, y0, x1, y1 = clip
    c.saveState()
    path = c.beginPath()
    path.rect(x0, y0, x1 - x0, y1 - y0)
    c.clipPath(path, stroke=0, fill=0)
    c.setLineCap(1)
    c.setLineJoin(1)

    def stroke(pts: list[tuple[float, float]], width: float, colour: colors.Color, alpha: float,
               dashed: bool) -> None:
        c.setStrokeColor(colour)
        c.setStrokeAlpha(alpha)
        c.setLineWidth(width)
        c.setDash([3 * width, 2.2 * width] if dashed else [])
        p = c.beginPath()
        p.moveTo(*pts[0])
        for pt in pts[1:]:
            p.lineTo(*pt)
        c.drawPath(p, stroke=1, fill=0)

    visible: list[tuple[Polyline, list[tuple[float, float]]]] = []
    for line in overlay.polylines:
        if len(line.points) < 2:
            continue
        pts = [mapping(*pt) for pt in line.points]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        if max(xs) < x0 or min(xs) > x1 or max(ys) < y0 or min(ys) > y1:
            continue  # wholly outside this view (another joint's arc)
        visible.append((line, pts))
    for line, pts in visible:
        width = style.axis_width if line.role in BOLD_ROLES else style.line_width
        # a dark halo first, so that a light line stays visible over bright bone
        stroke(pts, width + 0.9 * style.line_width + 0.3, colors.black, 0.55, False)
    for line, pts in visible:
        width = style.axis_width if line.role in BOLD_ROLES else style.line_width
        colour = _rgb(ABNORMAL_RGB if line.abnormal else ROLE_COLOURS.get(line.role, (255, 255, 255)))
        stroke(pts, width, colour, 1.0, line.dashed)
    c.setDash([])
    c.setStrokeAlpha(1.0)

    if style.marker > 0:
        for side, (x, y) in landmarks:
            px, py = mapping(x, y)
            c.setLineWidth(0.5)
            c.setStrokeColor(colors.black)
            c.setFillColor(_rgb(SIDE_RGB[side]))
            c.circle(px, py, style.marker, stroke=1, fill=1)

    # labels: boxes on the side the label direction points to (the viewer's rule), nudged apart
    size = style.font_size
    pad = 0.35 * size
    placed: list[tuple[float, float, float, float]] = []
    order = sorted(overlay.labels, key=lambda lbl: not lbl.abnormal)  # abnormal labels get the best place
    for label in order:
        ax, ay = mapping(*label.anchor)
        if only_inside and not (x0 <= ax <= x1 and y0 <= ay <= y1):
            continue  # a label of another joint: its own view shows it
        w = fonts.width(label.text, size, bold=True) + 2 * pad
        h = size + 2 * pad * 0.8
        dx, dy = label.direction  # image space: dy > 0 points down the page
        bx = ax + (0.0 if dx >= -0.3 else -w) - (w / 2.0 if abs(dx) < 0.3 else 0.0)
        top = ay - (0.0 if dy >= -0.3 else -h) + (h / 2.0 if abs(dy) < 0.3 else 0.0)
        box = (bx, top - h, bx + w, top)
        box = _inside(box, clip)
        if any(_overlaps(box, other) for other in placed):
            step = h + 0.6
            sign = 1.0 if dy < 0 else -1.0  # first try further along the label's own vertical sense
            for k in range(1, 10):
                found = None
                for s in (sign, -sign):
                    cand = _inside((box[0], box[1] + s * k * step, box[2], box[3] + s * k * step), clip)
                    if not any(_overlaps(cand, other) for other in placed):
                        found = cand
                        break
                if found is not None:
                    box = found
                    break
        placed.append(box)
        cx = min(max(ax, box[0]), box[2])
        cy = min(max(ay, box[1]), box[3])
        if math.hypot(cx - ax, cy - ay) > 1.5 * h:  # moved away from its vertex: a leader line
            c.setStrokeColor(colors.white)
            c.setLineWidth(0.35)
            c.line(ax, ay, cx, cy)
        c.setFillColor(colors.Color(0.78, 0.0, 0.0) if label.abnormal else colors.black)
        c.setFillAlpha(0.88 if label.abnormal else 0.68)
        c.roundRect(box[0], box[1], box[2] - box[0], box[3] - box[1], 0.25 * size, stroke=0, fill=1)
        c.setFillAlpha(1.0)
        c.setFillColor(colors.white)
        fonts.draw(c, box[0] + pad, box[1] + pad * 0.8 + 0.2 * size, label.text, size, bold=True)
    c.restoreState()


def _inside(box: tuple[float, float, float, float], clip: tuple[float, float, float, float]
            ) -> tuple[float, float, float, float]:
    """`box` moved (not resized) to lie inside `clip` where it fits."""
    x0, y0, x1, y1 = box
    dx = max(clip[0] + 1 - x0, 0.0) + min(clip[2] - 1 - x1, 0.0)
    dy = max(clip[1] + 1 - y0, 0.0) + min(clip[3] - 1 - y1, 0.0)
    return (x0 + dx, y0 + dy, x1 + dx, y1 + dy)


def _scale_bar(c: rl_canvas.Canvas, fonts: _Fonts, right: float, bottom: float, points_per_mm: float,
               max_points: float) -> None:
    """A white scale bar ending at (`right`, `bottom`), with the longest round length that fits."""
    for length in (500, 200, 100, 50, 20, 10, 5):
        if length * points_per_mm <= max_points:
            break
    else:
        return
    w = length * points_per_mm
    label = f"{length} mm" if length < 100 else f"{length / 10:g} cm"
    c.saveState()
    c.setFillColor(colors.black)
    c.setFillAlpha(0.55)
    c.rect(right - w - 3, bottom - 2, w + 6, 13, stroke=0, fill=1)
    c.setFillAlpha(1.0)
    c.setStrokeColor(colors.white)
    c.setLineWidth(1.2)
    c.line(right - w, bottom + 1.5, right, bottom + 1.5)
    c.line(right - w, bottom, right - w, bottom + 3)
    c.line(right, bottom, right, bottom + 3)
    c.setFillColor(colors.white)
    fonts.draw(c, right - w / 2.0, bottom + 4.5, label, 5.5, bold=True, align="centre")
    c.restoreState()


def _orientation_letters(orientation: tuple[str, str]) -> tuple[str, str]:
    """The patient side shown at the film's left and right edges ("R", "L") from patient_orientation."""
    first = orientation[0].upper()
    if "L" in first and "R" not in first:
        return "R", "L"  # x increases toward the patient's left: their right is on the viewer's left
    if "R" in first and "L" not in first:
        return "L", "R"
    return "", ""


# --- flowables -----------------------------------------------------------------------------------------


class _FilmFlowable(Flowable):
    """The whole film with the overlay, as large as the frame allows."""

    def __init__(self, ctx: "_Context", max_height: float | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.max_height = max_height
        self._size = (0.0, 0.0)

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        rows, cols = self.ctx.image_shape
        height = min(avail_height - 1, self.max_height or avail_height)
        width = min(avail_width, height * cols / rows)
        height = width * rows / cols
        self._size = (width, height)
        return avail_width, height

    def draw(self) -> None:
        ctx = self.ctx
        c = self.canv
        w, h = self._size
        rows, cols = ctx.image_shape
        left = 0.0
        scale = w / cols
        c.setFillColor(colors.black)
        c.rect(left, 0, w, h, stroke=0, fill=1)
        if ctx.radiograph is not None:
            out_w = max(1, min(cols, int(round(w / 72.0 * ctx.options.dpi))))
            out_h = max(1, min(rows, int(round(h / 72.0 * ctx.options.dpi))))
            picture = render_region(ctx.radiograph, 0, 0, cols, rows, out_w, out_h, ctx.window)
            c.drawImage(_jpeg(picture), left, 0, w, h)
        else:
            c.setFillColor(colors.Color(0.8, 0.8, 0.8))
            ctx.fonts.draw(c, left + w / 2, h / 2, "film not available: lines only", 8, align="centre")
        mapping = _Mapping(0.0, 0.0, left, h, scale)
        _draw_overlay(c, ctx.overlay, mapping, (left, 0, left + w, h),
                      _Style(line_width=0.55, axis_width=0.8, font_size=4.6, marker=0.0), ctx.fonts)
        lft, rgt = _orientation_letters(ctx.case.patient_orientation)
        if lft:  # the patient side at each edge, on a dark tile so that it shows over a white border
            for x, letter in ((left + 2, lft), (left + w - 14, rgt)):
                c.setFillColor(colors.black)
                c.setFillAlpha(0.7)
                c.roundRect(x, h - 14, 12, 12, 1.5, stroke=0, fill=1)
                c.setFillAlpha(1.0)
                c.setFillColor(colors.white)
                ctx.fonts.draw(c, x + 6, h - 11.2, letter, 8.5, bold=True, align="centre")
        if ctx.case.pixel_spacing_mm:
            _scale_bar(c, ctx.fonts, left + w - 5, 6, scale / ctx.case.pixel_spacing_mm[1], w * 0.4)
        c.setStrokeColor(colors.Color(0.6, 0.6, 0.6))
        c.setLineWidth(0.5)
        c.rect(left, 0, w, h, stroke=1, fill=0)


@dataclass(frozen=True, slots=True)
class _PanelSpec:
    side: Side
    joint: str  # "hip", "knee", "ankle"
    region: tuple[int, int, int, int]  # x0, y0, x1, y1 pixel indices (exclusive ends)
    keys: tuple[str, ...]


JOINTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("hip", (H, T, GT, N), ("mlpfa_deg", "ampfa_deg", "nsa_deg")),
    ("knee", (CM, CL, K, PM, PL), ("mldfa_deg", "mpta_deg", "jlca_deg", "aldfa_deg")),
    ("ankle", (DM, DL, A), ("ldta_deg",)),
)


class _PanelFlowable(Flowable):
    """A zoomed view of one joint: caption, film crop, the overlay clipped to it, a scale bar."""

    CAPTION = 24.0

    def __init__(self, ctx: "_Context", spec: _PanelSpec, width: float, height: float) -> None:
        super().__init__()
        self.ctx, self.spec = ctx, spec
        self.width, self.height = width, height

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        ctx, spec, c = self.ctx, self.spec, self.canv
        fonts = ctx.fonts
        x0, y0, x1, y1 = spec.region
        img_h = self.height - self.CAPTION
        w = self.width
        scale = w / (x1 - x0)
        limb = ctx.result.limbs.get(spec.side)
        fonts.draw(c, 0, self.height - 9, f"{spec.side.label} {spec.joint}", 9, bold=True)
        # the joint's values under the title, abnormal ones in red
        x = 0.0
        for key in spec.keys:
            value = format_value(key, limb) if limb else ""
            if not value:
                continue
            text = f"{LABELS[key]} {value}" + (f" {flag_text(key, limb)}" if flag_text(key, limb) else "")
            bad = bool(flag_text(key, limb))
            c.setFillColor(_ABNORMAL_TEXT if bad else colors.Color(0.25, 0.25, 0.25))
            fonts.draw(c, x, self.height - 20, text, 7, bold=bad)
            x += fonts.width(text, 7, bold=bad) + 9
        c.setFillColor(colors.black)
        c.rect(0, 0, w, img_h, stroke=0, fill=1)
        if ctx.radiograph is not None:
            out_w = max(1, int(round(w / 72.0 * ctx.options.dpi)))
            out_h = max(1, int(round(img_h / 72.0 * ctx.options.dpi)))
            picture = render_region(ctx.radiograph, x0, y0, x1, y1, out_w, out_h, ctx.window)
            c.drawImage(_jpeg(picture, 88), 0, 0, w, img_h)
        mapping = _Mapping(float(x0), float(y0), 0.0, img_h, scale)
        marks = [(spec.side, p) for name, p in ctx.case.limbs[spec.side].landmarks.items()]
        _draw_overlay(c, ctx.overlay, mapping, (0, 0, w, img_h),
                      _Style(line_width=1.0, axis_width=1.4, font_size=6.8, marker=1.6), fonts, marks,
                      only_inside=True)
        if ctx.case.pixel_spacing_mm:
            _scale_bar(c, fonts, w - 6, 6, scale / ctx.case.pixel_spacing_mm[1], w * 0.35)
        c.setStrokeColor(colors.Color(0.6, 0.6, 0.6))
        c.setLineWidth(0.5)
        c.rect(0, 0, w, img_h, stroke=1, fill=0)


class _LegendFlowable(Flowable):
    """A key to the line colours: (text, overlay role, dashed) entries, in `columns` columns."""

    def __init__(self, fonts: _Fonts, width: float, entries: Sequence[tuple[str, str, bool]] = LEGEND,
                 columns: int = 1) -> None:
        super().__init__()
        self.fonts, self.width, self.entries, self.columns = fonts, width, tuple(entries), max(1, columns)
        self.row = 10.5

    def _rows(self) -> int:
        return math.ceil(len(self.entries) / self.columns)

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.row * self._rows()

    def draw(self) -> None:
        c = self.canv
        rows = self._rows()
        for i, (text, role, dashed) in enumerate(self.entries):
            c.saveState()
            c.translate(self.width / self.columns * (i // rows), 0)
            y = self.row * (rows - i % rows - 1) + 3
            c.setFillColor(colors.Color(0.15, 0.15, 0.15))
            c.rect(0, y - 2.5, 22, 7, stroke=0, fill=1)
            c.setStrokeColor(_rgb(ROLE_COLOURS[role]) if role else _rgb(ABNORMAL_RGB))
            c.setLineWidth(1.4)
            c.setDash([3, 2] if dashed else [])
            c.line(3, y + 1, 19, y + 1)
            c.setDash([])
            c.setFillColor(colors.Color(0.2, 0.2, 0.2))
            self.fonts.draw(c, 28, y - 1, text, 7.5)
            c.restoreState()


# --- the document --------------------------------------------------------------------------------------

_ABNORMAL_TEXT = colors.Color(0.72, 0.0, 0.0)
_ABNORMAL_BG = colors.Color(1.0, 0.87, 0.87)
_GREY = colors.Color(0.42, 0.42, 0.42)
_RULE = colors.Color(0.75, 0.75, 0.75)
_ACCENT = colors.Color(0.12, 0.25, 0.45)


@dataclass(slots=True)
class _Context:
    case: Case
    result: CaseResult
    overlay: Overlay
    radiograph: Any
    image_shape: tuple[int, int]
    options: ReportOptions
    header: PrintedHeader
    fonts: _Fonts
    window: tuple[float, float] | None
    logo: ImageReader | None
    generated: str
    warnings: list[str] = field(default_factory=list)
    panel_aspect: float = 1.25  # width / height of a joint view's picture


def _styles(fonts: _Fonts) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=fonts.regular, fontSize=8.5, leading=11.2, textColor=colors.black)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.2, leading=9.2, textColor=_GREY),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.8, leading=9.4),
        "cellsmall": ParagraphStyle("cellsmall", parent=base, fontSize=6.8, leading=8.2, textColor=_GREY),
        "h1": ParagraphStyle("h1", parent=base, fontName=fonts.bold, fontSize=15, leading=18, textColor=_ACCENT),
        "h2": ParagraphStyle("h2", parent=base, fontName=fonts.bold, fontSize=11, leading=14, spaceBefore=6,
                             spaceAfter=3, textColor=_ACCENT),
        "h3": ParagraphStyle("h3", parent=base, fontName=fonts.bold, fontSize=9.5, leading=12, spaceBefore=5,
                             spaceAfter=2),
        "mat": ParagraphStyle("mat", parent=base, fontName=fonts.bold, fontSize=8.8, leading=11.4),
        "warn": ParagraphStyle("warn", parent=base, textColor=_ABNORMAL_TEXT, fontSize=8, leading=10.4),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        "label": ParagraphStyle("label", parent=base, fontSize=7, leading=9, textColor=_GREY),
        "value": ParagraphStyle("value", parent=base, fontName=fonts.bold, fontSize=8.2, leading=10.2,
                                alignment=TA_LEFT),
    }


def _p(fonts: _Fonts, text: str, style: ParagraphStyle, bold: bool = False) -> Paragraph:
    return Paragraph(fonts.markup(text, bold), style)


_LANDMARK_LABELS = {info.name: info.label.lower() for info in LANDMARK_INFO}


def _readable_reason(reason: str) -> str:
    """An `unavailable` reason with landmark names in words ("needs knee centre; ankle centre")."""
    if reason.startswith("needs ") and re.fullmatch(r"[a-z_]+(, [a-z_]+)*", reason[6:]):
        return "needs " + "; ".join(_LANDMARK_LABELS.get(n, n.replace("_", " ")) for n in reason[6:].split(", "))
    return re.sub(r"[a-z]+(?:_[a-z]+)+", lambda m: _LANDMARK_LABELS.get(m.group(0), m.group(0)), reason)


def lld_text(result: CaseResult) -> str:
    """The limb-length discrepancy as the command line writes it (without the "LLD:" prefix)."""
    if result.lld_mm is not None:
        lld = result.lld_mm
        return f"{abs(lld):.0f} mm" + ("" if round(lld) == 0 else f" ({'right' if lld > 0 else 'left'} longer)")
    if result.lld_px is not None:
        lld = result.lld_px
        return (f"{abs(lld):.0f} px" + ("" if round(lld) == 0 else f" ({'right' if lld > 0 else 'left'} longer)")
                + " (uncalibrated)")
    if "lld_mm" in result.unavailable:
        return f"— ({_readable_reason(result.unavailable['lld_mm'])})"
    return "—"


def _calibration_line(case: Case, result: CaseResult) -> str:
    caveat = str(case.calibration_extra.get("caveat", "")) if case.calibrated else ""
    return calibration_text(result.calibration_source, result.pixel_spacing_mm, caveat)


def _header_flowables(ctx: _Context, width: float, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    fonts, hd = ctx.fonts, ctx.header
    title_cells: list[Any] = []
    clinic = [_p(fonts, hd.clinic_name or "", st["h2"], bold=True)] if hd.clinic_name else []
    right = [_p(fonts, TITLE, st["h1"]), _p(fonts, f"Report generated {ctx.generated}", st["small"])]
    if ctx.logo is not None:
        iw, ih = ctx.logo.getSize()
        lh = 15 * mm
        lw = min(45 * mm, lh * iw / max(ih, 1))
        lh = lw * ih / max(iw, 1)
        title_cells.append(_LogoFlowable(ctx.logo, lw, lh))
    title_cells.append(clinic or [Spacer(1, 1)])
    title_cells.append(right)
    widths = ([title_cells[0].width + 4 * mm] if ctx.logo is not None else []) + [None, 96 * mm]
    title = Table([title_cells], colWidths=_fill_widths(widths, width))
    title.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("ALIGN", (-1, 0), (-1, 0), "RIGHT")]))
    right[0].style = ParagraphStyle("h1r", parent=st["h1"], alignment=TA_RIGHT)
    right[1].style = ParagraphStyle("smallr", parent=st["small"], alignment=TA_RIGHT)

    def pair(label: str, value: str) -> list[Paragraph]:
        return [_p(fonts, label, st["label"]), _p(fonts, value, st["value"])]

    rows = [
        pair("Patient", hd.patient_name) + pair("Study date", hd.study_date) + pair("Reader", hd.reader),
        pair("Patient ID", hd.patient_id) + pair("Accession", hd.accession) + pair("Measured on", hd.measured),
        pair("Birth date", hd.birth_date) + pair("View", hd.view) + pair("Calibration",
                                                                          _calibration_short(ctx.result)),
        pair("Sex", hd.sex) + pair("Institution", hd.institution) + pair("Software", f"deformity-app {__version__}"),
    ]
    box = Table(rows, colWidths=_fill_widths([18 * mm, None, 19 * mm, None, 20 * mm, None], width,
                                             weights=[0, 1.45, 0, 1.05, 0, 1.0]))
    box.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BOX", (0, 0), (-1, -1), 0.6, _RULE),
        ("BACKGROUND", (0, 0), (-1, -1), colors.Color(0.965, 0.97, 0.98)),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
        ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, 0), 5), ("BOTTOMPADDING", (0, -1), (-1, -1), 5),
    ]))
    return [title, Spacer(1, 4), box]


def _calibration_short(result: CaseResult) -> str:
    if result.pixel_spacing_mm is None:
        return "none: lengths in pixels"
    row, col = result.pixel_spacing_mm
    size = f"{row:.4g} mm" if abs(row - col) < 1e-9 else f"{row:.4g} x {col:.4g} mm"
    return f"{result.calibration_source} ({size})"


def _fill_widths(widths: Sequence[float | None], total: float, weights: Sequence[float] | None = None) -> list[float]:
    fixed = sum(w for w in widths if w is not None)
    free = [i for i, w in enumerate(widths) if w is None]
    weights = weights or [1.0] * len(widths)
    wsum = sum(weights[i] for i in free) or 1.0
    return [w if w is not None else (total - fixed) * weights[i] / wsum for i, w in enumerate(widths)]


class _LogoFlowable(Flowable):
    def __init__(self, image: ImageReader, width: float, height: float) -> None:
        super().__init__()
        self.image, self.width, self.height = image, width, height

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        self.canv.drawImage(self.image, 0, 0, self.width, self.height, mask="auto")


def _findings(ctx: _Context, width: float, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    fonts, result = ctx.fonts, ctx.result
    out: list[Flowable] = [_p(fonts, "Findings", st["h2"])]
    if not result.limbs:
        out.append(_p(fonts, "No limb has landmarks yet.", st["body"]))
    for side in (Side.RIGHT, Side.LEFT):
        limb = result.limbs.get(side)
        if limb is None:
            continue
        out.append(_p(fonts, f"{side.label} limb", st["h3"]))
        out.append(_p(fonts, limb.mat.get("summary", ""), st["mat"]))
        for warning in limb.warnings:
            out.append(_p(fonts, f"Warning: {warning}", st["warn"]))
    out.append(Spacer(1, 5))
    if result.limbs:
        out.append(_key_table(ctx, width, st))
        out.append(Spacer(1, 5))
    out.append(Paragraph(fonts.markup("Limb-length discrepancy: ", True) + fonts.markup(lld_text(result)),
                         st["body"]))
    out.append(Spacer(1, 3))
    out.append(Paragraph(fonts.markup("Calibration: ", True) + fonts.markup(_calibration_line(ctx.case, result)),
                         st["body"]))
    if not ctx.case.calibrated:
        out.append(_p(fonts, "Uncalibrated film: every length is in pixels, not millimetres.", st["warn"], True))
    for warning in result.warnings + ctx.case.warnings:
        out.append(_p(fonts, f"Warning: {warning}", st["warn"]))
    return out


def _film_notes(ctx: _Context, width: float, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The key to the lines on the film and the note on observer error."""
    fonts = ctx.fonts
    return [_p(fonts, "Lines on the film", st["h3"]), _LegendFlowable(fonts, width), Spacer(1, 6),
            _p(fonts, OBSERVER_NOTE, st["small"])]


class _SignatureFlowable(Flowable):
    """Lines for the reviewing clinician's signature and the date; left out when the page is full."""

    HEIGHT = 44.0

    def __init__(self, fonts: _Fonts) -> None:
        super().__init__()
        self.fonts = fonts
        self._show = True
        self.width = 0.0

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width = avail_width
        self._show = avail_height >= self.HEIGHT
        return avail_width, (self.HEIGHT if self._show else 0.0)

    def split(self, avail_width: float, avail_height: float) -> list[Flowable]:
        return []  # never pushed onto a page of its own

    def draw(self) -> None:
        if not self._show:
            return
        c = self.canv
        c.setStrokeColor(colors.Color(0.35, 0.35, 0.35))
        c.setLineWidth(0.5)
        sign_w = self.width * 0.62
        c.line(0, 14, sign_w, 14)
        c.line(sign_w + 14, 14, self.width, 14)
        c.setFillColor(_GREY)
        self.fonts.draw(c, 0, 4, "Reviewed by (name, signature)", 7)
        self.fonts.draw(c, sign_w + 14, 4, "Date", 7)


KEY_VALUES = ("mad_mm", "hka_deg", "mldfa_deg", "mpta_deg", "jlca_deg", "ldta_deg", "mlpfa_deg")


def _key_table(ctx: _Context, width: float, st: dict[str, ParagraphStyle]) -> Table:
    """A both-limbs summary of the main values: Measurement | Right | Left | Normal."""
    fonts, result = ctx.fonts, ctx.result
    sides = [s for s in (Side.RIGHT, Side.LEFT) if s in result.limbs]
    head = ["", *[f"{s.label}" for s in sides], "Normal"]
    data: list[list[Any]] = [[_p(fonts, h, st["cell"], bold=True) for h in head]]
    style = [
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, _ACCENT),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, _RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.6), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.6),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    for r, key in enumerate(KEY_VALUES, start=1):
        row: list[Any] = [_p(fonts, LABELS[key], st["cell"], bold=True)]
        for col, side in enumerate(sides, start=1):
            cell, bad = _flagged_cell(fonts, st, key, result.limbs[side])
            row.append(cell)
            if bad:
                style += [("BACKGROUND", (col, r), (col, r), _ABNORMAL_BG), ("TEXTCOLOR", (col, r), (col, r),
                                                                             _ABNORMAL_TEXT)]
        row.append(_p(fonts, _normal_for(key, sides, result), st["cellsmall"]))
        data.append(row)
    n = len(sides)
    widths = _fill_widths([18 * mm] + [None] * n + [None], width, weights=[0] + [1.0] * n + [1.25])
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle(style))
    return table


def _flagged_cell(fonts: _Fonts, st: dict[str, ParagraphStyle], key: str, limb: LimbResult
                  ) -> tuple[Paragraph, bool]:
    """A table cell with the value and its flag ("79.3° LOW", bold red when abnormal); True when flagged."""
    value = format_value(key, limb) or "—"
    flag = flag_text(key, limb) if value != "—" else ""
    if flag:
        return Paragraph(fonts.markup(value + f" {flag}", True),
                         ParagraphStyle("bad", parent=st["cell"], textColor=_ABNORMAL_TEXT)), True
    return _p(fonts, value, st["cell"]), False


def _normal_for(key: str, sides: Sequence[Side], result: CaseResult) -> str:
    """The normal range, or a note when the values are in pixels and a mm range cannot apply."""
    text = normal_text(key)
    if key.endswith("_mm") and text != "—" and not result.calibrated:
        return "— (a range in mm; this film is uncalibrated)"
    return text


def _limb_table(ctx: _Context, side: Side, limb: LimbResult, width: float, st: dict[str, ParagraphStyle]) -> Table:
    fonts = ctx.fonts
    head = ["Measurement", "What it is", "Value", "Normal (adult)", "Flag"]
    data: list[list[Any]] = [[_p(fonts, h, st["cell"], bold=True) for h in head]]
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.92, 0.95)),
        ("LINEBELOW", (0, 0), (-1, 0), 0.7, _ACCENT),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, _RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.2), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.4),
        ("LEFTPADDING", (0, 0), (-1, -1), 3.5), ("RIGHTPADDING", (0, 0), (-1, -1), 3.5),
    ]
    bad_cell = ParagraphStyle("badcell", parent=st["cell"], textColor=_ABNORMAL_TEXT)
    right_cell = ParagraphStyle("rcell", parent=st["cell"], alignment=TA_RIGHT)
    bad_right = ParagraphStyle("badr", parent=bad_cell, alignment=TA_RIGHT)
    for r, key in enumerate(TABLE_KEYS, start=1):
        value = format_value(key, limb)
        what = DESCRIPTIONS.get(key, "")
        if not value:
            reason = _readable_reason(limb.unavailable.get(key, "not available"))
            desc = Paragraph(fonts.markup(what) + "<br/>" + f'<font size="6.6" color="#777777">'
                             f"{fonts.markup('not measured: ' + reason)}</font>", st["cell"])
            row = [_p(fonts, LABELS[key], st["cell"], True), desc,
                   Paragraph('<font color="#888888">—</font>', right_cell), _p(fonts, "", st["cell"]),
                   _p(fonts, "", st["cell"])]
        else:
            flag = flag_text(key, limb)
            row = [_p(fonts, LABELS[key], st["cell"], True), _p(fonts, what, st["cell"]),
                   _p(fonts, value, bad_right if flag else right_cell, bool(flag)),
                   _p(fonts, _normal_for(key, [side], ctx.result), st["cell"]),
                   _p(fonts, flag, bad_cell, True)]
            if flag:
                style.append(("BACKGROUND", (2, r), (4, r), _ABNORMAL_BG))
        data.append(row)
    widths = _fill_widths([38.5 * mm, None, 25 * mm, 42.5 * mm, 12 * mm], width)
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle(style))
    return table


def _measurement_pages(ctx: _Context, width: float, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    fonts, result = ctx.fonts, ctx.result
    out: list[Flowable] = [_p(fonts, "Measurements", st["h1"]), Spacer(1, 4)]
    if not result.limbs:
        out.append(_p(fonts, "No limb has landmarks yet.", st["body"]))
    for side in (Side.RIGHT, Side.LEFT):
        limb = result.limbs.get(side)
        if limb is None:
            continue
        block: list[Flowable] = [_p(fonts, f"{side.label} limb", st["h2"]), _limb_table(ctx, side, limb, width, st),
                                 Spacer(1, 3)]
        if limb.limb_length_basis:
            basis = "femoral head top" if limb.limb_length_basis == "head_top" else "femoral head centre"
            block.append(_p(fonts, f"Limb length measured from the {basis}.", st["small"]))
        block.append(Paragraph(fonts.markup("MAT: ", True) + fonts.markup(limb.mat.get("summary", "")), st["body"]))
        for warning in limb.warnings:
            block.append(_p(fonts, f"Warning: {warning}", st["warn"]))
        block.append(Spacer(1, 6))
        out.append(KeepTogether(block))
    out.append(Paragraph(fonts.markup("Limb-length discrepancy (LLD): ", True) + fonts.markup(lld_text(result)),
                         st["body"]))
    out.append(Spacer(1, 2))
    out.append(Paragraph(fonts.markup("Calibration: ", True) + fonts.markup(_calibration_line(ctx.case, result)),
                         st["body"]))
    if not ctx.case.calibrated:
        out.append(_p(fonts, "Uncalibrated film: every length is in pixels, not millimetres; angles are unaffected.",
                      st["warn"], True))
    for warning in result.warnings:
        out.append(_p(fonts, f"Warning: {warning}", st["warn"]))
    out.append(Spacer(1, 6))
    out.append(_p(fonts, "Notes", st["h3"]))
    notes = [
        OBSERVER_NOTE,
        "Values are computed from the landmarks placed by the reader on this film, in the film's physical "
        "space (each pixel scaled by its row and column spacing). Flags compare each value with the adult "
        "normal range of the normal-values file; the malalignment test (MAT) follows Paley.",
        "MAD is positive when the mechanical axis passes medial to the knee centre; mFTA is positive in varus "
        "(HKA below 180°); JLCA is positive when the joint lines converge medially.",
    ]
    hd = ctx.header
    if hd.film_name or hd.sop_uid:
        notes.append("Film: " + ", ".join(p for p in (hd.film_name, f"SOP Instance UID {hd.sop_uid}" if hd.sop_uid
                                                      else "") if p) + ".")
    for note in notes:
        out.append(_p(fonts, note, st["small"]))
        out.append(Spacer(1, 2))
    return out


def _panel_specs(ctx: _Context) -> list[_PanelSpec]:
    """The joints to zoom on (each with at least two of its landmarks placed), all at one scale.

    A view spans the joint's landmarks plus room for the arcs and labels around them (about 20 mm
    on the film, the overlay's arc radius), at least 76 mm across when calibrated; every view uses
    the largest of these sizes, so that hips, knees and ankles print at the same magnification.
    """
    case = ctx.case
    rows, cols = ctx.image_shape
    if case.pixel_spacing_mm:
        r = 20.0 / min(case.pixel_spacing_mm)  # build_overlay's arc radius
        min_half = 38.0 / min(case.pixel_spacing_mm)
    else:
        r = 0.015 * float(case.image.get("rows") or rows or 4000)
        min_half = 2.7 * r
    found: list[tuple[Side, str, tuple[str, ...], np.ndarray]] = []
    half = np.array([min_half, min_half])
    for joint, names, keys in JOINTS:
        for side in (Side.RIGHT, Side.LEFT):
            limb = case.limbs.get(side)
            if limb is None:
                continue
            pts = np.array([limb.landmarks[n] for n in names if n in limb.landmarks], dtype=float)
            if len(pts) < 2:
                continue
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            extent = float(max(hi - lo))
            # room for the arcs and labels; on an uncalibrated film the joint's own size sets it
            need = np.maximum((hi - lo) / 2.0 + 2.1 * r, 0.0 if case.pixel_spacing_mm else 1.3 * extent)
            half = np.maximum(half, need)
            found.append((side, joint, keys, (lo + hi) / 2.0))
    aspect = ctx.panel_aspect  # width / height of the picture area
    if half[0] / half[1] < aspect:
        half[0] = half[1] * aspect
    else:
        half[1] = half[0] / aspect
    width_px, height_px = int(math.ceil(2 * half[0])), int(math.ceil(2 * half[1]))
    specs: list[_PanelSpec] = []
    for side, joint, keys, centre in found:
        x0 = int(math.floor(centre[0] - width_px / 2.0 + 0.5))
        y0 = int(math.floor(centre[1] - height_px / 2.0 + 0.5))
        # keep the view on the film where it fits (no black margin when the joint is near an edge)
        if width_px <= cols:
            x0 = min(max(x0, 0), cols - width_px)
        if height_px <= rows:
            y0 = min(max(y0, 0), rows - height_px)
        specs.append(_PanelSpec(side, joint, (x0, y0, x0 + width_px, y0 + height_px), keys))
    return specs


def _panel_pages(ctx: _Context, width: float, height: float, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    specs = _panel_specs(ctx)
    if not specs:
        return []
    fonts = ctx.fonts
    out: list[Flowable] = [PageBreak(), _p(fonts, "Joint views", st["h1"]), Spacer(1, 2),
                           _p(fonts, "Zoomed views of the film with the same lines and angles as page 1. "
                                     "Dots mark the landmarks placed by the reader.", st["small"]), Spacer(1, 5)]
    gap = 10.0
    col_w = (width - gap) / 2.0
    two_limbs = len({s.side for s in specs}) == 2
    if two_limbs:
        grid: list[list[Any]] = []
        for joint, _names, _keys in JOINTS:
            row = [next((s for s in specs if s.joint == joint and s.side is side), None)
                   for side in (Side.RIGHT, Side.LEFT)]
            if any(row):
                grid.append(row)
    else:
        grid = [specs[i:i + 2] + [None] * (2 - len(specs[i:i + 2])) for i in range(0, len(specs), 2)]
    rows_n = len(grid)
    avail = height - 60.0
    cell_h = min((avail - gap * (rows_n - 1)) / max(rows_n, 3), col_w / ctx.panel_aspect + _PanelFlowable.CAPTION)
    pic_h = cell_h - _PanelFlowable.CAPTION
    cells = [[(_PanelFlowable(ctx, s, col_w, pic_h + _PanelFlowable.CAPTION) if s else "") for s in row]
             for row in grid]
    table = Table(cells, colWidths=[col_w + gap / 2, col_w + gap / 2], rowHeights=[cell_h + gap] * rows_n)
    table.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    out.append(table)
    return out


# --- the planning page -----------------------------------------------------------------------------------

PLANNING_KEYS = ("mad_mm", "wbl_pct", "mfta_deg", "hka_deg", "mlpfa_deg", "mldfa_deg", "mpta_deg", "ldta_deg",
                 "jlca_deg", "limb_length_mm")
PLANNING_LAYERS = frozenset({Layer.AXES, Layer.JOINT_LINES, Layer.ANGLES, Layer.MAD})
# labels left out of the planning drawings (their captions and the table give these values)
PLANNING_QUIET_LABELS = frozenset({"hka_deg", "mad_mm", "jlca_deg"})
FRAGMENT_BAND_MM = 45.0  # half-width of the band of film that moves with the distal fragment (as the viewer)
RULE_WORDS = {  # Paley's osteotomy rules, as planning.md states them
    1: "hinge on the bisector, cut through the CORA",
    2: "hinge on the bisector, cut away from the CORA: the fragments translate at the cut",
    3: "hinge off the bisector: a secondary translation deformity",
}
# what a drawing of the bone shows: its joints and its shaft
_BONE_LANDMARKS = {Bone.FEMUR: (H, T, GT, N, F1, F2, CM, CL, K, PM, PL),
                   Bone.TIBIA: (CM, CL, K, PM, PL, TS1, TS2, DM, DL, A)}
PLANNING_LEGEND = (
    ("Axis lines from the joints, CORA (circle), bisector", "cora_axis", True),
    ("Osteotomy, hinge (square), wedge (shaded)", "osteotomy", False),
    ("Mechanical axis (after: predicted)", "mechanical_axis", False),
    ("Current mechanical axis (after drawings)", "current_axis", True),
)


@dataclass(slots=True)
class _PlanEntry:
    number: int
    name: str
    plan: dict[str, Any]
    bone: Bone | None = None  # these three are drawn even when the plan cannot be computed
    cut: tuple[tuple[float, float], tuple[float, float]] | None = None
    hinge: tuple[float, float] | None = None
    sim: Simulation | None = None
    reason: str = ""  # why it cannot be computed
    band: list[tuple[float, float]] = field(default_factory=list)  # the film that moves with the fragment


def _drawable_point(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    try:
        x, y = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        return None
    return (x, y) if math.isfinite(x) and math.isfinite(y) else None


def _plan_entry(number: int, plan: Any) -> _PlanEntry:
    """A plan's name, bone, cut and hinge as far as they can be read (for drawing and for the header)."""
    plan = plan if isinstance(plan, dict) else {}
    name = plan.get("name")
    entry = _PlanEntry(number, name.strip() if isinstance(name, str) and name.strip() else f"Plan {number}", plan)
    try:
        entry.bone = Bone(plan.get("bone"))
    except ValueError:
        pass
    ends = plan.get("osteotomy_px")
    if isinstance(ends, (list, tuple)) and len(ends) == 2:
        a, b = _drawable_point(ends[0]), _drawable_point(ends[1])
        entry.cut = (a, b) if a is not None and b is not None else None
    entry.hinge = _drawable_point(plan.get("hinge_px"))
    return entry


@dataclass(slots=True)
class _LimbPlanning:
    side: Side
    references: ReferenceAngles | None
    problem: str  # why nothing of the limb can be planned (malformed keys), else ""
    coras: dict[Bone, Cora | None]
    cora_reasons: dict[Bone, str]
    entries: list[_PlanEntry]
    wbl_now: float | None
    region: tuple[int, int, int, int] = (0, 0, 1, 1)

    @property
    def computed(self) -> list[_PlanEntry]:
        return [e for e in self.entries if e.sim is not None]


def _fragment_band(case: Case, side: Side, plan: dict[str, Any], band_mm: float = FRAGMENT_BAND_MM
                   ) -> list[tuple[float, float]]:
    """The film that moves with the distal fragment, as the viewer draws it (planning.fragment_band_px)."""
    return fragment_band_px(case, side, plan, band_mm)


def _limb_planning(ctx: _Context, side: Side) -> _LimbPlanning | None:
    """The CORAs and the simulated plans of one limb, or None when it has no plan."""
    case = ctx.case
    limb = case.limbs.get(side)
    raw = limb.extra.get("plans") if limb is not None else None
    if raw is None or raw == []:
        return None
    lp = _LimbPlanning(side, None, "", {}, {}, [], None)
    if not isinstance(raw, list):
        lp.problem = f"'plans' of the {side} limb must be a list"
        return lp
    try:
        lp.references = reference_angles(case, side, contralateral=ctx.result.limbs.get(side.other))
    except CaseError as exc:  # a malformed reference_deg
        lp.problem = str(exc)
    try:
        lp.wbl_now = wbl_pct(case, side)
    except PlanUnavailable:
        pass
    for bone in (Bone.FEMUR, Bone.TIBIA):
        lp.coras[bone] = None
        if lp.references is None:
            lp.cora_reasons[bone] = lp.problem
            continue
        try:
            lp.coras[bone] = find_cora(case, side, bone, reference=lp.references)
        except PlanUnavailable as exc:
            lp.cora_reasons[bone] = str(exc)
    for i, plan in enumerate(raw):
        entry = _plan_entry(i + 1, plan)
        name = entry.name
        try:
            spec = parse_plan(plan, i, case.calibrated)
            if lp.problem:
                raise PlanUnavailable(lp.problem)
            entry.sim = simulate(case, side, spec, cora=lp.coras[spec.bone])
            entry.band = _fragment_band(case, side, plan)
        except PlanUnavailable as exc:
            entry.reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - one plan must not cost the whole report
            log.warning("plan %r of the %s limb cannot be simulated", name, side, exc_info=True)
            entry.reason = f"internal error ({type(exc).__name__}: {exc})"
        if entry.reason:
            ctx.warnings.append(f"Plan '{name}' of the {side} limb cannot be computed: "
                                f"{_readable_reason(entry.reason)}.")
        lp.entries.append(entry)
    return lp


def _unit_px(case: Case, rows: int) -> float:
    """Image pixels for 20 mm on the film (build_overlay's arc radius), or 1.5 % of the height uncalibrated."""
    if case.pixel_spacing_mm:
        return 20.0 / min(case.pixel_spacing_mm)
    return 0.015 * float(case.image.get("rows") or rows or 4000)


def _planning_extent(ctx: _Context, lp: _LimbPlanning) -> tuple[np.ndarray, np.ndarray]:
    """Centre and half-size (image pixels) of what the drawings must show: the planned bones with
    their joints (the whole limb when both bones are planned), the moved fragments and the CORAs,
    with room for the arcs and labels."""
    landmarks = ctx.case.limbs[lp.side].landmarks
    bones = {e.bone for e in lp.entries if e.bone is not None} or {Bone.FEMUR, Bone.TIBIA}
    names = {n for bone in bones for n in _BONE_LANDMARKS[bone]}
    pts = [landmarks[n] for n in names if n in landmarks]
    for entry in lp.entries:
        pts += list(entry.cut or ())
        if entry.sim is not None:
            pts += [p for n, p in entry.sim.moved_px.items() if n in names]
    for bone in bones:
        cora = lp.coras.get(bone)
        if cora is not None and cora.cora_px is not None:
            pts.append(cora.cora_px)
    if not pts:
        pts = list(landmarks.values())
    arr = np.array(pts, dtype=float)
    lo, hi = arr.min(axis=0), arr.max(axis=0)
    r = _unit_px(ctx.case, ctx.image_shape[0])
    centre = (lo + hi) / 2.0 + np.array([0.0, -0.4 * r])  # a little more room above, for the tags
    return centre, (hi - lo) / 2.0 + np.array([2.6 * r, 3.2 * r])


def _planning_region(ctx: _Context, lp: _LimbPlanning, aspect: float) -> tuple[int, int, int, int]:
    """The pixels the drawings show: `_planning_extent` widened to `aspect` (width / height) and
    kept on the film where it fits."""
    centre, half = _planning_extent(ctx, lp)
    if half[0] / half[1] < aspect:
        half[0] = half[1] * aspect
    else:
        half[1] = half[0] / aspect
    rows, cols = ctx.image_shape
    w, h = int(math.ceil(2 * half[0])), int(math.ceil(2 * half[1]))
    x0 = int(math.floor(centre[0] - w / 2.0 + 0.5))
    y0 = int(math.floor(centre[1] - h / 2.0 + 0.5))
    if w <= cols:
        x0 = min(max(x0, 0), cols - w)
    if h <= rows:
        y0 = min(max(y0, 0), rows - h)
    return (x0, y0, x0 + w, y0 + h)


def _moved_picture(ctx: _Context, region: tuple[int, int, int, int], out_w: int, out_h: int,
                   band: Sequence[tuple[float, float]], matrix: Sequence[Sequence[float]]) -> np.ndarray:
    """The film of `region` after the osteotomy: the band of the distal fragment darkened where it
    was and drawn again through the fragment's affine `matrix` (image pixels), as the viewer shows it."""
    x0, y0, x1, y1 = region
    base = render_region(ctx.radiograph, x0, y0, x1, y1, out_w, out_h, ctx.window)
    sx, sy = out_w / (x1 - x0), out_h / (y1 - y0)
    poly = np.array(band, dtype=float)
    m = np.vstack([np.array(matrix, dtype=float), [0.0, 0.0, 1.0]])
    # the fragment is rendered from its own bounding box (it may come from outside the region)
    bx0, by0 = (int(math.floor(v)) - 2 for v in poly.min(axis=0))
    bx1, by1 = (int(math.ceil(v)) + 3 for v in poly.max(axis=0))
    bw, bh = max(1, int(round((bx1 - bx0) * sx))), max(1, int(round((by1 - by0) * sy)))
    source = render_region(ctx.radiograph, bx0, by0, bx1, by1, bw, bh, ctx.window)

    def to_out(u0: float, v0: float, su: float, sv: float) -> np.ndarray:
        # image coordinate x -> picture coordinate (x + 0.5 - u0) * s - 0.5 (pixel centres on both sides)
        return np.array([[su, 0.0, (0.5 - u0) * su - 0.5], [0.0, sv, (0.5 - v0) * sv - 0.5], [0.0, 0.0, 1.0]])

    dst, src = to_out(x0, y0, sx, sy), to_out(bx0, by0, bw / (bx1 - bx0), bh / (by1 - by0))
    warp = (dst @ m @ np.linalg.inv(src))[:2]
    moved = cv2.warpAffine(source, warp, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=0)

    def mask(points: np.ndarray) -> np.ndarray:
        out = np.zeros((out_h, out_w), np.uint8)
        q = (np.c_[points, np.ones(len(points))] @ dst[:2].T) * 16.0
        cv2.fillPoly(out, [np.round(q).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
        return out.astype(np.float32) / 255.0

    was = mask(poly)
    now = mask(np.c_[poly, np.ones(len(poly))] @ m[:2].T)
    if base.ndim == 3:
        was, now = was[..., None], now[..., None]
    out = base.astype(np.float32) * (1.0 - 0.67 * was)  # the viewer's shade: black at alpha 170/255
    out = out * (1.0 - now) + moved.astype(np.float32) * now
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _line_segment(point: tuple[float, float], direction: tuple[float, float], t0: float, t1: float
                  ) -> tuple[tuple[float, float], tuple[float, float]]:
    (px, py), (dx, dy) = point, direction
    return (px + t0 * dx, py + t0 * dy), (px + t1 * dx, py + t1 * dy)


def _lateral_x(ctx: _Context, side: Side) -> float:
    """+1 when the limb's lateral side is toward increasing x in the image, else -1."""
    limb = ctx.result.limbs.get(side)
    if limb is not None and limb.frame is not None and abs(float(limb.frame.lat[0])) > 1e-9:
        return 1.0 if float(limb.frame.lat[0]) > 0 else -1.0
    return -1.0 if side is Side.RIGHT else 1.0


def _before_overlay(ctx: _Context, lp: _LimbPlanning, style: _Style, scale: float) -> Overlay:
    """The CORA construction of each bone (axis lines from the joints, the CORA, the transverse
    bisector line) and each plan's cut, as overlay lines and labels (`scale`: points per pixel)."""
    side = lp.side
    x0, _y0, x1, _y1 = lp.region

    def room(x: float, toward: float, text: str) -> bool:
        """Whether most of `text` fits between image x and the drawing's edge in the direction `toward`."""
        need = (ctx.fonts.width(text, style.font_size, bold=True) + style.font_size) / scale
        return (x1 - x if toward > 0 else x - x0) >= 0.5 * need  # a label a little short is moved inside

    r = _unit_px(ctx.case, ctx.image_shape[0])
    lines: list[Polyline] = []
    labels: list[Label] = []
    lat = _lateral_x(ctx, side)
    for cora in lp.coras.values():
        if cora is None or cora.cora_px is None:
            continue
        for axis in (cora.proximal_axis_px, cora.distal_axis_px):
            (px, py), (dx, dy) = axis.point_px, axis.direction_px
            reach = (cora.cora_px[0] - px) * dx + (cora.cora_px[1] - py) * dy
            lines.append(Polyline(_line_segment(axis.point_px, axis.direction_px, 0.0, reach + 3.0 * r),
                                  Layer.AXES, "cora_axis", side, dashed=True))
        if cora.bisector_px is not None:
            lines.append(Polyline(_line_segment(cora.bisector_px.point_px, cora.bisector_px.direction_px,
                                                -1.6 * r, 1.6 * r), Layer.AXES, "cora_bisector", side, dashed=True))
        # above the CORA, lateral (the apex of a varus) unless the drawing has no room there
        text = f"CORA {abs(cora.angle_deg):.1f}° {cora.direction}"
        way = lat if room(cora.cora_px[0] + lat * 0.6 * r, lat, text) else -lat
        labels.append(Label((cora.cora_px[0] + way * 0.6 * r, cora.cora_px[1] - 0.45 * r), text, Layer.AXES, side,
                            direction=(way, -0.6)))
    cuts: dict[tuple[float, ...], list[int]] = {}
    for entry in lp.entries:
        if entry.cut is None:
            continue
        key = tuple(round(v, 1) for p in entry.cut for v in p)
        cuts.setdefault(key, []).append(entry.number)
    for key, numbers in cuts.items():
        a, b = (key[0], key[1]), (key[2], key[3])
        lines.append(Polyline((a, b), Layer.AXES, "osteotomy", side))
        if len(lp.entries) > 1:
            end = min((a, b), key=lambda p: lat * p[0])  # the cut's medial end
            labels.append(Label((end[0] - lat * 0.4 * r, end[1]), "cut " + ", ".join(map(str, numbers)),
                                Layer.AXES, side, direction=(-lat, 0.0)))
    return Overlay(tuple(lines), tuple(labels))


def _after_overlay(ctx: _Context, lp: _LimbPlanning, entry: _PlanEntry) -> Overlay:
    """The predicted analysis (build_overlay on the moved landmarks), the current mechanical axis,
    the cut's two edges and the moved band's outline."""
    case, sim, side = ctx.case, entry.sim, lp.side
    moved = Case(image=case.image, pixel_spacing_mm=case.pixel_spacing_mm,
                 calibration_source=case.calibration_source, patient_orientation=case.patient_orientation,
                 limbs={side: Limb(dict(sim.moved_px))})
    result = CaseResult({side: sim.predicted_result}, case.calibrated, case.calibration_source,
                        case.pixel_spacing_mm)
    predicted = build_overlay(moved, result).in_layers(set(ctx.options.layers) & PLANNING_LAYERS)
    lines: list[Polyline] = []
    labels: list[Label] = []
    landmarks = case.limbs[side].landmarks
    if H in landmarks and A in landmarks:
        lines.append(Polyline((landmarks[H], landmarks[A]), Layer.AXES, "current_axis", side, dashed=True))
    (c0, c1) = sim.cut_px
    lines.append(Polyline((c0, c1), Layer.AXES, "osteotomy", side))
    lines.append(Polyline((sim.transform.apply(c0), sim.transform.apply(c1)), Layer.AXES, "osteotomy", side))
    return Overlay(tuple(lines) + predicted.polylines,
                   tuple(labels) + tuple(lb for lb in predicted.labels if lb.key not in PLANNING_QUIET_LABELS))


def _wedge_ends(ctx: _Context, sim: Simulation) -> list[tuple[str, tuple[float, float], float]]:
    """(word, where the moved end of the cut is, opening) for the medial and lateral ends."""
    lat = _lateral_x(ctx, sim.side)
    (c0, c1) = sim.cut_px
    medial, lateral = sorted((c0, c1), key=lambda p: lat * p[0])
    return [("medial", sim.transform.apply(medial), sim.opening["medial"]),
            ("lateral", sim.transform.apply(lateral), sim.opening["lateral"])]


class _PlanDrawingFlowable(Flowable):
    """The limb before the osteotomy (CORA construction, cuts, hinges) or after one plan (the distal
    fragment of the film moved, the predicted lines and angles)."""

    CAPTION = 24.0

    def __init__(self, ctx: _Context, lp: _LimbPlanning, entry: _PlanEntry | None, width: float,
                 height: float) -> None:
        super().__init__()
        self.ctx, self.lp, self.entry = ctx, lp, entry
        self.width, self.height = width, height
        self.title_size = 9.0  # the page's drawings share one size (set by _planning_pages)

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.height

    def _caption(self) -> tuple[str, list[tuple[str, bool]]]:
        ctx, lp, entry = self.ctx, self.lp, self.entry
        if entry is None:
            limb, wbl, title = ctx.result.limbs.get(lp.side), lp.wbl_now, "Before"
        else:
            limb, wbl = entry.sim.predicted_result, entry.sim.predicted.get("wbl_pct")
            title = f"After {entry.number}: {entry.name}"
        parts: list[tuple[str, bool]] = []
        value = format_value("mad_mm", limb) if limb is not None else ""
        if value:
            flag = flag_text("mad_mm", limb)
            parts.append((f"MAD {value}" + (f" {flag}" if flag else ""), bool(flag)))
        if wbl is not None:
            parts.append((f"WBL {wbl:.1f} %", False))
        return title, parts

    def draw(self) -> None:
        ctx, lp, entry, c = self.ctx, self.lp, self.entry, self.canv
        fonts = ctx.fonts
        x0, y0, x1, y1 = lp.region
        w, img_h = self.width, self.height - self.CAPTION
        scale = w / (x1 - x0)
        title, parts = self._caption()
        size = self.title_size
        while len(title) > 4 and fonts.width(title, size, bold=True) > w:
            title = title[:-2].rstrip() + "…"
        c.setFillColor(colors.black)
        fonts.draw(c, 0, self.height - 9, title, size, bold=True)

        def fits(size: float) -> bool:
            return sum(fonts.width(t, size, bold=b) + 5 for t, b in parts) <= w + 5

        x, size = 0.0, 6.6
        while size > 5.4 and not fits(size):
            size -= 0.2
        if not fits(size):  # a narrow drawing: the colour says abnormal, the table says how
            parts = [(t.removesuffix(" HIGH").removesuffix(" LOW"), b) for t, b in parts]
        while len(parts) > 1 and not fits(size):
            parts = parts[:-1]
        for text, bad in parts:
            c.setFillColor(_ABNORMAL_TEXT if bad else colors.Color(0.25, 0.25, 0.25))
            fonts.draw(c, x, self.height - 20, text, size, bold=bad)
            x += fonts.width(text, size, bold=bad) + 5
        c.setFillColor(colors.black)
        c.rect(0, 0, w, img_h, stroke=0, fill=1)
        if ctx.radiograph is not None:
            out_w = max(1, int(round(w / 72.0 * ctx.options.dpi)))
            out_h = max(1, int(round(img_h / 72.0 * ctx.options.dpi)))
            if entry is None:
                picture = render_region(ctx.radiograph, x0, y0, x1, y1, out_w, out_h, ctx.window)
            else:
                picture = _moved_picture(ctx, lp.region, out_w, out_h, entry.band, entry.sim.transform.matrix_px)
            c.drawImage(_jpeg(picture, 88), 0, 0, w, img_h)
        mapping = _Mapping(float(x0), float(y0), 0.0, img_h, scale)
        clip = (0.0, 0.0, w, img_h)
        style = _Style(line_width=0.75, axis_width=1.1, font_size=5.4, marker=0.0)
        if entry is None:
            mine = Overlay(tuple(p for p in ctx.overlay.polylines if p.side is lp.side and p.layer in PLANNING_LAYERS),
                           tuple(lb for lb in ctx.overlay.labels if lb.side is lp.side and lb.layer in PLANNING_LAYERS
                                 and lb.key not in PLANNING_QUIET_LABELS))
            plan = _before_overlay(ctx, lp, style, scale)
            _draw_overlay(c, Overlay(mine.polylines + plan.polylines, plan.labels + mine.labels), mapping, clip,
                          style, fonts, only_inside=True)
            self._marks(mapping, clip, [e.hinge for e in lp.entries if e.hinge is not None])
        else:
            self._wedge(mapping, clip)
            _draw_overlay(c, _after_overlay(ctx, lp, entry), mapping, clip, style, fonts, only_inside=True)
            self._marks(mapping, clip, [entry.sim.hinge_px], coras=False)
            self._wedge_labels(mapping, clip)
        self._lateral_tags(w, img_h)
        if ctx.case.pixel_spacing_mm:
            _scale_bar(c, fonts, w - 5, 5, scale / ctx.case.pixel_spacing_mm[1], w * 0.45)
        c.setStrokeColor(colors.Color(0.6, 0.6, 0.6))
        c.setLineWidth(0.5)
        c.rect(0, 0, w, img_h, stroke=1, fill=0)

    def _clip(self, clip: tuple[float, float, float, float]) -> None:
        path = self.canv.beginPath()
        path.rect(clip[0], clip[1], clip[2] - clip[0], clip[3] - clip[1])
        self.canv.clipPath(path, stroke=0, fill=0)

    def _marks(self, mapping: _Mapping, clip: tuple[float, float, float, float], hinges: Sequence[Sequence[float]],
               coras: bool = True) -> None:
        c = self.canv
        c.saveState()
        self._clip(clip)
        if coras:
            for cora in self.lp.coras.values():
                if cora is not None and cora.cora_px is not None:
                    x, y = mapping(*cora.cora_px)
                    for width, colour in ((2.2, colors.black), (1.0, _rgb(ROLE_COLOURS["cora_axis"]))):
                        c.setLineWidth(width)
                        c.setStrokeColor(colour)
                        c.circle(x, y, 3.2, stroke=1, fill=0)
        for hinge in hinges:
            x, y = mapping(float(hinge[0]), float(hinge[1]))
            c.setLineWidth(0.5)
            c.setStrokeColor(colors.black)
            c.setFillColor(_rgb(ROLE_COLOURS["osteotomy"]))
            c.rect(x - 2.0, y - 2.0, 4.0, 4.0, stroke=1, fill=1)
        c.restoreState()

    def _wedge(self, mapping: _Mapping, clip: tuple[float, float, float, float]) -> None:
        """Shade the gap (opening) or the overlap (bone to resect) between the cut's two edges."""
        sim = self.entry.sim
        (c0, c1) = sim.cut_px
        pts = [mapping(*c0), mapping(*c1), mapping(*sim.transform.apply(c1)), mapping(*sim.transform.apply(c0))]
        c = self.canv
        c.saveState()
        self._clip(clip)
        c.setFillColor(_rgb(ROLE_COLOURS["osteotomy"]))
        c.setFillAlpha(0.45)
        path = c.beginPath()
        path.moveTo(*pts[0])
        for p in pts[1:]:
            path.lineTo(*p)
        path.close()
        c.drawPath(path, stroke=0, fill=1, fillMode=0)
        c.restoreState()

    def _wedge_labels(self, mapping: _Mapping, clip: tuple[float, float, float, float]) -> None:
        """The opening at each end of the cut that opens or overlaps, beside that end."""
        ctx, sim, c = self.ctx, self.entry.sim, self.canv
        lat = _lateral_x(ctx, sim.side)
        for word, where, value in _wedge_ends(ctx, sim):
            if round(value, 1) == 0:
                continue
            x, y = mapping(*where)
            outward = lat if word == "lateral" else -lat  # page x grows with image x
            text = f"{_plus_minus(value)} {sim.unit}"
            size = 5.4
            tw = ctx.fonts.width(text, size, bold=True) + 4
            bx = x + 3 if outward > 0 else x - 3 - tw
            bx = min(max(bx, clip[0] + 1), clip[2] - tw - 1)
            c.setFillColor(_rgb(ROLE_COLOURS["osteotomy"]))
            c.setFillAlpha(0.9)
            c.roundRect(bx, y - 4, tw, size + 3, 1.2, stroke=0, fill=1)
            c.setFillAlpha(1.0)
            c.setFillColor(colors.black)
            ctx.fonts.draw(c, bx + 2, y - 2, text, size, bold=True)

    def _lateral_tags(self, w: float, h: float) -> None:
        c, fonts = self.canv, self.ctx.fonts
        lat = _lateral_x(self.ctx, self.lp.side)
        for x, word in ((2.0, "LAT" if lat < 0 else "MED"), (w - 2.0, "MED" if lat < 0 else "LAT")):
            tw = fonts.width(word, 6, bold=True) + 4
            bx = x if x < w / 2 else x - tw
            c.setFillColor(colors.black)
            c.setFillAlpha(0.7)
            c.roundRect(bx, h - 11, tw, 9, 1.2, stroke=0, fill=1)
            c.setFillAlpha(1.0)
            c.setFillColor(colors.white)
            fonts.draw(c, bx + 2, h - 8.8, word, 6, bold=True)


def _plus_minus(value: float) -> str:
    """+4.2, -4.2, or 0.0 when it rounds to zero (no "-0.0")."""
    return "0.0" if round(value, 1) == 0 else f"{value:+.1f}"


def _signed_words(value: float, unit: str, plus: str, minus: str, digits: int = 1) -> str:
    """"4.2 mm medial" for +4.2, "1.1 mm lateral" for -1.1, "0.0 mm" when it rounds to zero."""
    if round(value, digits) == 0:
        return f"{0:.{digits}f} {unit}"
    return f"{abs(value):.{digits}f} {unit} {plus if value > 0 else minus}"


def _plan_header(ctx: _Context, entry: _PlanEntry, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """What the surgeon does and what it leaves: angle, rule, wedge, translation, length."""
    fonts = ctx.fonts
    bone = str(entry.bone) if entry.bone is not None else str(entry.plan.get("bone") or "bone not given")
    head = fonts.markup(f"{entry.number} · {entry.name}", True) + fonts.markup(f" — {bone}")
    sim = entry.sim
    if sim is None:
        return [Paragraph(head + fonts.markup(": cannot be computed: ") + "<b>"
                          + fonts.markup(_readable_reason(entry.reason)) + "</b>", st["warn"])]
    u = sim.unit
    turn = f"{abs(sim.angle_deg):.1f}° toward {'valgus' if sim.angle_deg >= 0 else 'varus'}"
    if sim.solved and sim.target is not None:
        key, value = sim.target
        turn += (f", solved for WBL {value:g} %" if key == "wbl_pct" else f", solved for MAD {value:g} mm")
    else:
        turn += ", as entered"
    first = head + fonts.markup(": ") + "<b>" + fonts.markup(turn) + "</b>" + fonts.markup(". ")
    if sim.translation:
        first += fonts.markup(f"Shifted {abs(sim.translation):.1f} mm along the cut toward "
                              f"{'lateral' if sim.translation > 0 else 'medial'}. ")
    if sim.rule is None:
        first += fonts.markup(f"Paley's rules: — (the {bone} has no CORA).")
    else:
        first += (fonts.markup(f"Paley's rule {sim.rule}", True)
                  + fonts.markup(f": {RULE_WORDS[sim.rule]} (hinge {sim.hinge_to_bisector:.0f} {u} from the "
                                 f"bisector line, cut {sim.cut_to_cora:.0f} {u} from the CORA)."))
    lines = [first]
    wedge = (f"{sim.wedge.capitalize()} wedge" if sim.wedge != "none" else "No wedge")
    text = fonts.markup(wedge, True) + fonts.markup(
        f": medial {_plus_minus(sim.opening['medial'])} {u}, lateral {_plus_minus(sim.opening['lateral'])} {u} "
        "(+ opens, − resect).")
    if sim.axis_translation is not None:
        where = "" if sim.axis_translation_basis == "cora" else " (at the distal joint centre)"
        text += fonts.markup(" Axis translation left: ") + fonts.markup(
            _signed_words(sim.axis_translation, u, "medial", "lateral") + where, True) + fonts.markup(".")
    if sim.length_change is not None:
        text += fonts.markup(" Length change: ") + fonts.markup(f"{_plus_minus(sim.length_change)} {u}", True) + "."
    lines.append(text)
    return [Paragraph("<br/>".join(lines), st["body"])]


def _cora_table(ctx: _Context, lp: _LimbPlanning, width: float, st: dict[str, ParagraphStyle]) -> Table:
    fonts = ctx.fonts
    data: list[list[Any]] = [[_p(fonts, h, st["cell"], bold=True)
                              for h in ("Bone", "Angulation", "Level of the CORA", "Offset")]]
    for bone in (Bone.FEMUR, Bone.TIBIA):
        cora = lp.coras.get(bone)
        proximal, distal = JOINT_WORDS[bone]
        if cora is None:
            row = ["—", f"not found ({_readable_reason(lp.cora_reasons.get(bone, 'not available'))})", ""]
        elif cora.cora_px is None:
            shift = _signed_words(cora.translation, cora.unit, "medial", "lateral", 0)
            row = [f"{abs(cora.angle_deg):.1f}°: no CORA (under 2°)", "—",
                   f"{distal} {shift} {'from' if shift.count(' ') == 1 else 'of'} the proximal axis line"]
        else:
            u = cora.unit
            row = [f"{abs(cora.angle_deg):.1f}° {cora.direction}",
                   f"{cora.from_proximal:.0f} {u} below the {proximal}, {cora.from_distal:.0f} {u} above the {distal}",
                   (f"{_signed_words(cora.offset, u, 'lateral', 'medial', 0)} of the {proximal.split()[0]}–"
                    f"{distal.split()[0]} line")]
        data.append([_p(fonts, bone.value.capitalize(), st["cell"], bold=True)]
                    + [_p(fonts, t, st["cell"]) for t in row])
    table = Table(data, colWidths=_fill_widths([15 * mm, 38 * mm, None, None], width, weights=[0, 0, 1.45, 1.0]))
    table.setStyle(TableStyle([
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, _ACCENT), ("LINEBELOW", (0, 1), (-1, -1), 0.25, _RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.4), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.4),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    return table


def _prediction_table(ctx: _Context, lp: _LimbPlanning, width: float, st: dict[str, ParagraphStyle]) -> Table:
    """Measurement | Current | Predicted (one column per plan) | Normal, abnormal values flagged."""
    fonts = ctx.fonts
    entries = lp.computed
    current = ctx.result.limbs.get(lp.side)
    head = [_p(fonts, "Measurement", st["cell"], bold=True), _p(fonts, "Current", st["cell"], bold=True)]
    head += [_p(fonts, f"After {e.number}: {e.name}", st["cell"], bold=True) for e in entries]
    head.append(_p(fonts, "Normal", st["cell"], bold=True))
    data: list[list[Any]] = [head]
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.92, 0.95)),
        ("LINEBELOW", (0, 0), (-1, 0), 0.7, _ACCENT), ("LINEBELOW", (0, 1), (-1, -1), 0.25, _RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.2), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.4),
        ("LEFTPADDING", (0, 0), (-1, -1), 3.5), ("RIGHTPADDING", (0, 0), (-1, -1), 3.5),
    ]
    for r, key in enumerate(PLANNING_KEYS, start=1):
        if key == "wbl_pct":
            row: list[Any] = [_p(fonts, "WBL", st["cell"], bold=True),
                              _p(fonts, "—" if lp.wbl_now is None else f"{lp.wbl_now:.1f} %", st["cell"])]
            row += [_p(fonts, f"{e.sim.predicted['wbl_pct']:.1f} %" if "wbl_pct" in e.sim.predicted else "—",
                       st["cell"]) for e in entries]
            row.append(_p(fonts, "Fujisawa point 62.5 %", st["cellsmall"]))
        else:
            row = [_p(fonts, LABELS[key], st["cell"], bold=True)]
            for col, limb in enumerate([current] + [e.sim.predicted_result for e in entries], start=1):
                if limb is None:
                    row.append(_p(fonts, "—", st["cell"]))
                    continue
                cell, bad = _flagged_cell(fonts, st, key, limb)
                row.append(cell)
                if bad:
                    style += [("BACKGROUND", (col, r), (col, r), _ABNORMAL_BG)]
            row.append(_p(fonts, _normal_for(key, [lp.side], ctx.result), st["cellsmall"]))
        data.append(row)
    n = len(entries) + 1
    widths = _fill_widths([24 * mm] + [None] * n + [None], width, weights=[0] + [1.0] * n + [1.2])
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle(style))
    return table


def _growth_flowables(ctx: _Context, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The multiplier prediction of planning.md (from `plan_case`), or why there is none."""
    fonts = ctx.fonts
    case = ctx.case.copy()  # without the plans and references: a malformed plan says nothing of growth
    for limb in case.limbs.values():
        limb.extra.pop("plans", None)
        limb.extra.pop("reference_deg", None)
    try:
        planned = plan_case(case)
    except CaseError as exc:
        return [_p(fonts, f"Growth: — ({exc})", st["small"])]
    except Exception as exc:  # noqa: BLE001 - the growth lines must not cost the whole report
        log.warning("growth prediction failed", exc_info=True)
        return [_p(fonts, f"Growth: — (internal error: {type(exc).__name__})", st["small"])]
    growth = planned.get("growth")
    title = fonts.markup("Growth (multiplier method, Paley et al. 2000): ", True)
    if growth is None:
        reason = planned.get("unavailable", {}).get("growth", "not available")
        return [Paragraph(title + fonts.markup(f"not predicted ({_readable_reason(reason)})."), st["body"])]
    m, lld, at = growth["multiplier"], growth["lld_mm"], growth["lld_at_maturity_mm"]

    def lld_words(v: float) -> str:
        return f"{abs(v):.0f} mm" + ("" if round(v) == 0 else f" ({'right' if v > 0 else 'left'} longer)")

    who = growth["sex"] + ("" if ctx.options.anonymize else f", {growth['age_years']:g} years")
    if m <= 1.0:
        text = (f"{who}: skeletally mature (multiplier 1.0), no further growth; the discrepancy stays "
                f"{lld_words(lld)}.")
        return [Paragraph(title + fonts.markup(text), st["body"])]
    remaining = growth["growth_remaining_mm"]
    text = (f"{who}, multiplier {m:.3f}. LLD now {lld_words(lld)}, at maturity {lld_words(at)}. "
            f"Growth remaining: right {remaining['right']:.0f} mm, left {remaining['left']:.0f} mm.")
    return [Paragraph(title + fonts.markup(text), st["body"]), Spacer(1, 1.5), _p(fonts, growth["note"], st["small"])]


def _planning_pages(ctx: _Context, width: float, height: float, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """One page per limb with osteotomy plans: the CORAs, before and after drawings, each plan's
    correction, the predicted values and the growth prediction."""
    fonts = ctx.fonts
    out: list[Flowable] = []
    for side in (Side.RIGHT, Side.LEFT):
        lp = _limb_planning(ctx, side)
        if lp is None:
            continue
        top: list[Flowable] = [PageBreak(), _p(fonts, f"Osteotomy planning: {side.label.lower()} limb", st["h1"]),
                               Spacer(1, 2)]
        intro = "Frontal plane, after Paley (Principles of Deformity Correction, 2002)."
        if lp.references is not None:
            intro += " Planned against the reference angles " + ", ".join(
                f"{LABELS[k]} {v:.1f}° ({SOURCE_WORDS.get(str(lp.references.sources[k]), '')})"
                for k, v in lp.references.values.items()) + "."
        top.append(_p(fonts, intro, st["small"]))
        if not ctx.case.calibrated:
            top.append(_p(fonts, "Uncalibrated film: every length on this page is in pixels, not millimetres; "
                                 "angles, WBL and the rules are unaffected.", st["warn"], True))
        if lp.problem:
            top.append(_p(fonts, f"The plans cannot be computed: {lp.problem}", st["warn"], True))
        top += [Spacer(1, 4), _cora_table(ctx, lp, width, st)]
        for cora in lp.coras.values():
            for note in (cora.notes if cora is not None else ()):
                top.append(_p(fonts, f"Note: {note}", st["warn"]))
        top.append(Spacer(1, 6))

        below: list[Flowable] = [Spacer(1, 2), _LegendFlowable(fonts, width, PLANNING_LEGEND, columns=2),
                                 Spacer(1, 6)]
        for entry in lp.entries:
            below += _plan_header(ctx, entry, st) + [Spacer(1, 3)]
        if lp.computed:
            below += [Spacer(1, 3), _prediction_table(ctx, lp, width, st), Spacer(1, 2),
                      _p(fonts, "Predicted: the measurements of this film with the distal fragment moved as planned "
                                "(the soft tissues and the joints' laxity are not modelled).", st["small"])]
        below += [Spacer(1, 6)] + _growth_flowables(ctx, st)

        # the drawings take the height left on the page
        used = sum(f.wrap(width, height)[1] + f.getSpaceBefore() + f.getSpaceAfter() for f in top[1:] + below)
        n = 1 + len(lp.computed)
        per_row = min(n, 3)
        gap = 8.0
        cell_w = (width - gap * (per_row - 1)) / per_row
        rows_n = math.ceil(n / per_row)
        pic_h = (height - used - 14.0) / rows_n - _PlanDrawingFlowable.CAPTION - gap * (rows_n - 1)
        pic_h = min(max(pic_h, 170.0), 520.0)
        _centre, half = _planning_extent(ctx, lp)
        cell_w = min(cell_w, pic_h * max(float(half[0] / half[1]), 0.3))  # a bone is tall: no wider than it
        lp.region = _planning_region(ctx, lp, cell_w / pic_h)
        cells = [_PlanDrawingFlowable(ctx, lp, None, cell_w, pic_h + _PlanDrawingFlowable.CAPTION)]
        cells += [_PlanDrawingFlowable(ctx, lp, e, cell_w, pic_h + _PlanDrawingFlowable.CAPTION) for e in lp.computed]
        title_size = 9.0
        while title_size > 7.0 and any(fonts.width(cell._caption()[0], title_size, bold=True) > cell_w
                                       for cell in cells):
            title_size -= 0.5
        for cell in cells:
            cell.title_size = title_size
        grid: list[list[Any]] = [cells[i:i + per_row] for i in range(0, n, per_row)]
        grid[-1] += [""] * (per_row - len(grid[-1]))
        drawings = Table(grid, colWidths=[cell_w + gap] * per_row,
                         rowHeights=[pic_h + _PlanDrawingFlowable.CAPTION + gap] * rows_n, hAlign="CENTER")
        drawings.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                                      ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
                                      ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        out += top + [drawings] + below
    return out


def _numbered_canvas(ctx: _Context, page_size: tuple[float, float], margins: tuple[float, float, float, float]
                     ) -> type[rl_canvas.Canvas]:
    """A canvas that defers the footer until the page count is known ("page 2 of 3")."""
    left, right, top, bottom = margins
    width, height = page_size
    fonts, hd = ctx.fonts, ctx.header

    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._saved: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._saved.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._saved)
            for state in self._saved:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            page = self._pageNumber
            y = bottom - 14
            self.setStrokeColor(_RULE)
            self.setLineWidth(0.5)
            self.line(left, y + 9, width - right, y + 9)
            self.setFillColor(_GREY)
            fonts.draw(self, left, y, f"Case: {hd.case_label}", 7)
            fonts.draw(self, width / 2, y, f"deformity-app {__version__} · not a substitute for the reader's "
                                          "own review of the film", 7, align="centre")
            fonts.draw(self, width - right, y, f"page {page} of {total}", 7, bold=True, align="right")
            if page > 1:  # a running header: the patient on every page of the chart
                ty = height - top + 8
                self.setFillColor(_ACCENT)
                fonts.draw(self, left, ty, hd.clinic_name or TITLE, 8, bold=True)
                self.setFillColor(colors.black)
                who = " · ".join(p for p in (hd.patient_name, f"ID {hd.patient_id}" if hd.patient_id != "—" else "",
                                             f"born {hd.birth_date.split(' ')[0]}" if hd.birth_date != "—" else "",
                                             f"study {hd.study_date}" if hd.study_date != "—" else "") if p)
                fonts.draw(self, width - right, ty, who, 8, align="right")
                self.setStrokeColor(_RULE)
                self.line(left, ty - 4, width - right, ty - 4)

    return NumberedCanvas


def build_report(case: Case, case_path: Path | None, radiograph: Any, out_path: Path,
                 options: ReportOptions | None = None, *, metadata: Any = None, film_path: Path | None = None,
                 result: CaseResult | None = None) -> ReportInfo:
    """Write the PDF report of `case` on `radiograph` to `out_path` (atomically) and describe it.

    Parameters
    ----------
    case, case_path: the analysis and its file (for the footer, the measurement time and the film's
        relative path); `case_path` may be None for unsaved work.
    radiograph: a `dicom_io` Radiograph (pixels, window presets, invert flag, metadata), or None to
        print the overlay on a blank film.
    out_path: the PDF to write; an existing file is replaced only once the new one is complete.
    options: paper, anonymisation, clinic, reader... (defaults: A4, not anonymised, settings file).
    metadata: overrides `radiograph.metadata` (patient and study fields).
    film_path: the film's file, for the notes (defaults to `radiograph.path`).
    result: the measurements, when already computed (else measured here).

    Raises ReportError (a sentence) when the file cannot be written or the logo given cannot be read.
    """
    started = time.perf_counter()
    options = options or ReportOptions()
    out_path = Path(out_path)
    if options.paper not in PAPERS:
        raise ReportError(f"Unknown paper size {options.paper!r} (expected a4 or letter).")
    fonts = _get_fonts()
    warnings: list[str] = []
    result = result or measure_case(case)
    overlay = build_overlay(case, result).in_layers(set(options.layers))
    if radiograph is not None:
        shape = (int(radiograph.pixels.shape[0]), int(radiograph.pixels.shape[1]))
    else:
        shape = (int(case.image.get("rows") or 0), int(case.image.get("columns") or 0))
        if shape[0] <= 0 or shape[1] <= 0:
            shape = _shape_from_landmarks(case)
    metadata = metadata if metadata is not None else getattr(radiograph, "metadata", None)
    if film_path is None and radiograph is not None and str(getattr(radiograph, "path", "<memory>")) != "<memory>":
        film_path = Path(radiograph.path)

    settings = load_report_settings()
    clinic_name = options.clinic_name if options.clinic_name is not None else settings.clinic_name
    logo_path = options.clinic_logo if options.clinic_logo is not None else settings.clinic_logo
    logo = None
    if logo_path:
        problem = check_logo(Path(logo_path))
        if problem is None:
            logo = ImageReader(str(logo_path))
        elif options.clinic_logo is not None:
            raise ReportError(f"The clinic logo {logo_path} cannot be used: {problem}.")
        else:
            warnings.append(f"The clinic logo {logo_path} of the settings cannot be used ({problem}); "
                            "the report was made without it.")

    now = _dt.datetime.now()
    header = printed_header(case, case_path, metadata, film_path, options, clinic_name or "", now)
    window = _display_window(radiograph, options.window) if radiograph is not None and not getattr(
        radiograph, "is_color", False) else None
    ctx = _Context(case, result, overlay, radiograph, shape, options, header, fonts, window, logo,
                   now.strftime("%Y-%m-%d %H:%M"), warnings)

    page_w, page_h = PAPERS[options.paper]
    left = right = 15 * mm
    top, bottom = 14 * mm, 17 * mm
    frame_w = page_w - left - right
    st = _styles(fonts)

    # page 1: header across, then the film and the findings side by side (or stacked for a wide film)
    header_flow = _header_flowables(ctx, frame_w, st)
    header_h = sum(f.wrap(frame_w, page_h)[1] for f in header_flow) + 4 + 10
    body_top = page_h - top - header_h
    body_h = body_top - bottom
    rows, cols = shape
    aspect = cols / rows
    gap = 12.0

    def frame(fid: str, x: float, y: float, w: float, h: float) -> Frame:
        return Frame(x, y, w, h, id=fid, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)

    first_frames = [frame("header", left, body_top, frame_w, header_h)]
    story: list[Flowable] = list(header_flow) + [FrameBreak()]
    if aspect < 0.75:  # a long-leg film: the film on the left, the findings beside it
        film_w = min(body_h * aspect, frame_w * 0.55)
        side_w = frame_w - film_w - gap
        first_frames += [frame("film", left, bottom, film_w, body_h),
                         frame("side", left + film_w + gap, bottom, side_w, body_h)]
        story += [_FilmFlowable(ctx), FrameBreak()]
        story += _findings(ctx, side_w, st) + [Spacer(1, 8)] + _film_notes(ctx, side_w, st)
        story += [Spacer(1, 14), _SignatureFlowable(fonts)]
    else:  # a wide film (a knee, a lower leg): the film and its key on top, the findings below
        film_h = min(body_h * 0.5, frame_w * 0.62 / aspect)
        film_w = film_h * aspect
        beside_w = frame_w - film_w - gap
        first_frames += [frame("film", left, body_top - film_h, film_w, film_h)]
        if beside_w >= 150:
            first_frames += [frame("beside", left + film_w + gap, body_top - film_h, beside_w, film_h)]
        first_frames += [frame("body", left, bottom, frame_w, body_h - film_h - gap)]
        story += [_FilmFlowable(ctx), FrameBreak()]
        if beside_w >= 150:
            story += _film_notes(ctx, beside_w, st) + [FrameBreak()]
            story += _findings(ctx, frame_w, st)
        else:
            story += _findings(ctx, frame_w, st) + [Spacer(1, 8)] + _film_notes(ctx, frame_w, st)
        story += [Spacer(1, 14), _SignatureFlowable(fonts)]
    later_frame = frame("later", left, bottom, frame_w, page_h - top - bottom - 10)

    story += [NextPageTemplate("later"), PageBreak()]
    story += _measurement_pages(ctx, frame_w, st)
    panels = _panel_specs(ctx) if options.joint_panels else []
    if options.joint_panels:
        story += _panel_pages(ctx, frame_w, page_h - top - bottom - 10, st)
    if options.planning:
        story += _planning_pages(ctx, frame_w, page_h - top - bottom - 10, st)

    folder = out_path.parent if str(out_path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
    except OSError as exc:
        raise ReportError(f"The report cannot be written in {folder} ({exc.strerror or exc}).") from None
    try:
        doc = BaseDocTemplate(
            tmp_name, pagesize=(page_w, page_h), leftMargin=left, rightMargin=right, topMargin=top,
            bottomMargin=bottom, title=TITLE, author=clinic_name or "", subject="",
            creator=f"deformity-app {__version__}", producer=f"deformity-app {__version__} (reportlab)",
            pageCompression=1,
        )
        doc.addPageTemplates([PageTemplate("first", first_frames), PageTemplate("later", [later_frame])])
        use_a85 = rl_config.useA85
        rl_config.useA85 = 0  # binary streams: ASCII85 would make the film a quarter larger
        try:
            doc.build(story, canvasmaker=_numbered_canvas(ctx, (page_w, page_h), (left, right, top, bottom)))
        finally:
            rl_config.useA85 = use_a85
        page_count = doc.page
        with open(tmp_name, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp_name, USUAL_FILE_MODE)  # mkstemp makes 0600
        os.replace(tmp_name, out_path)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise ReportError(f"The report cannot be written to {out_path} ({exc.strerror or exc}).") from None
        raise
    warnings.extend(fonts.warnings)
    return ReportInfo(
        path=out_path,
        page_count=page_count,
        size_bytes=out_path.stat().st_size,
        anonymized=options.anonymize,
        panels=tuple(f"{s.side.label} {s.joint}" for s in panels),
        warnings=tuple(dict.fromkeys(warnings)),
        seconds=time.perf_counter() - started,
    )


def _shape_from_landmarks(case: Case) -> tuple[int, int]:
    pts = [p for limb in case.limbs.values() for p in limb.landmarks.values()]
    if not pts:
        return (1000, 400)
    arr = np.array(pts)
    return (int(arr[:, 1].max() * 1.1) + 1, int(arr[:, 0].max() * 1.1) + 1)
