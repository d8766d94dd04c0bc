"""The agreement study as a PDF: ICC tables with intervals and Bland–Altman plots (reportlab, no Qt).

Page 1 summarises the study (readers, sessions, subjects, skipped files) and gives ICC(A,1), its
95 % interval, SEM and MDC95 of every measurement; then each measurement has its six ICCs with
intervals, the Bland–Altman table and one plot per pair of readers (differences against means,
bias and limits of agreement drawn), and the intra-reader ICCs. Fonts are the report's (DejaVu
Sans, embedded) through :mod:`deformity_app.report`'s font helper.
"""
from __future__ import annotations

import datetime as _dt
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from reportlab.graphics.shapes import Circle, Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (BaseDocTemplate, Flowable, Frame, KeepTogether, PageTemplate, Paragraph, Spacer,
                                Table, TableStyle)

from measurements.agreement import (
    HEADLINE,
    ICC_FORMS,
    NEGATIVE_NOTE,
    AgreementResult,
    BlandAltman,
    MeasurementAgreement,
    icc_notes,
)
from measurements.case import USUAL_FILE_MODE
from measurements.present import DESCRIPTIONS, LABELS

from . import __version__
from .report import _get_fonts

TITLE = "Reader agreement"
PAPERS = {"a4": A4, "letter": LETTER}
_ACCENT = colors.Color(0.09, 0.28, 0.52)
_GREY = colors.Color(0.38, 0.38, 0.4)
_RULE = colors.Color(0.72, 0.74, 0.78)
_HEAD_BG = colors.Color(0.93, 0.95, 0.98)
_BIAS = colors.Color(0.09, 0.33, 0.65)
_LOA = colors.Color(0.78, 0.16, 0.12)
_POINT = colors.Color(0.15, 0.15, 0.18)

MODELS = {
    "ICC(1,1)": "one-way random, single reader",
    "ICC(A,1)": "two-way, absolute agreement, single reader",
    "ICC(C,1)": "two-way, consistency, single reader",
    "ICC(1,k)": "one-way random, mean of k readers",
    "ICC(A,k)": "two-way, absolute agreement, mean of k readers",
    "ICC(C,k)": "two-way, consistency, mean of k readers",
}
NOTES = (
    "Intraclass correlations as McGraw & Wong (1996) name them (ICC(A,1) is Shrout & Fleiss's ICC(2,1), "
    "ICC(C,1) their ICC(3,1)), from the two-way ANOVA of the subjects x readers matrix of each reader's first "
    "session, keeping the subjects every reader measured; 95 % intervals from the F distribution (Satterthwaite "
    "degrees of freedom for the absolute-agreement forms). The headline is ICC(A,1), absolute agreement of a "
    "single reader (Koo & Li 2016), read from its 95 % interval: below 0.5 poor, 0.5 to 0.75 moderate, 0.75 to "
    "0.9 good, above 0.9 excellent. SEM = SD of all values x sqrt(1 - ICC(A,1)); MDC95 = 1.96 x sqrt(2) x SEM. "
    "Bland–Altman: differences between two readers over the subjects both measured, bias ± 1.96 SD. A subject "
    "is one limb of one film. " + NEGATIVE_NOTE + " Where ICC(A,1) or its lower limit is below −1/(k−1), ICC(A,k) "
    "or its lower limit is undefined or unbounded (—, −∞), where statistical packages print a value above 1 or a "
    "lower limit above the upper."
)


class AgreementReportError(Exception):
    """The PDF cannot be written; `str()` says why."""


def unit_symbol(unit: str) -> str:
    return {"deg": "°", "mm": " mm", "px": " px"}.get(unit, "")


def measurement_label(key: str) -> str:
    """"MPTA", "MAD", "Femur length (px)"."""
    if key.endswith("_px"):
        return LABELS.get(key[:-3] + "_mm", key) + " (px)"
    return LABELS.get(key, key)


def measurement_description(key: str) -> str:
    return DESCRIPTIONS.get(key[:-3] + "_mm" if key.endswith("_px") else key, "")


def koo_li(value: float) -> str:
    if value < 0.5:
        return "poor"
    if value < 0.75:
        return "moderate"
    if value <= 0.9:
        return "good"
    return "excellent"


def koo_li_reading(ci: tuple[float, float]) -> str:
    """Koo & Li's reading of an ICC from its 95 % interval, e.g. "moderate to good"."""
    lo, hi = ci
    if math.isnan(lo) or math.isnan(hi):
        return "—"
    a, b = koo_li(lo), koo_li(hi)
    return a if a == b else f"{a} to {b}"


def _f(value: float | None, digits: int) -> str:
    if value is not None and math.isinf(value):
        return "−∞" if value < 0 else "∞"
    if value is None or not math.isfinite(value):
        return "—"
    text = f"{value:.{digits}f}"
    return text.replace("-", "−") if text.startswith("-") and float(text) != 0 else text.lstrip("-")


def _ci(ci: tuple[float, float] | None, digits: int = 2) -> str:
    """"0.87 to 0.97"; an unbounded limit is "−∞"; "—" when the interval is undefined."""
    if ci is None or any(math.isnan(v) for v in ci):
        return "—"
    return f"{_f(ci[0], digits)} to {_f(ci[1], digits)}"


# --- the Bland–Altman plot ------------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0
    raw = (hi - lo) / max(target, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + 1e-9 * step:
        ticks.append(round(value, 10) + 0.0)
        value += step
    return ticks


def _tick_text(value: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    digits = 0 if step >= 1 else (1 if step >= 0.1 else 2)
    if step == 2.5 * 10 ** math.floor(math.log10(step)) and step < 10:
        digits += 1
    return _f(value, digits)


def bland_altman_drawing(ba: BlandAltman, first: str, second: str, unit: str, width: float = 84 * mm,
                         height: float = 62 * mm) -> Drawing:
    """Differences (first - second) against means, with the bias and the 95 % limits of agreement."""
    fonts = _get_fonts()
    font = fonts.regular
    sym = unit_symbol(unit).strip()
    d = Drawing(width, height)
    left, right, bottom, top = 34.0, 40.0, 28.0, 16.0
    pw, ph = width - left - right, height - bottom - top
    d.add(String(left, height - 10, f"{first} − {second}  (n = {ba.n})", fontName=fonts.bold, fontSize=7.5))

    xs = list(ba.means)
    ys = list(ba.differences)
    lines = [ba.bias] + ([ba.loa[0], ba.loa[1]] if math.isfinite(ba.sd) else [])
    y_lo = min(ys + lines + [0.0])
    y_hi = max(ys + lines + [0.0])
    pad = 0.12 * (y_hi - y_lo) if y_hi > y_lo else 1.0
    y_lo, y_hi = y_lo - pad, y_hi + pad
    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    xpad = 0.08 * (x_hi - x_lo) if x_hi > x_lo else 1.0
    x_lo, x_hi = x_lo - xpad, x_hi + xpad
    yt = nice_ticks(y_lo, y_hi, 5)
    xt = nice_ticks(x_lo, x_hi, 4)
    y_lo, y_hi = min(y_lo, yt[0]), max(y_hi, yt[-1])
    x_lo, x_hi = min(x_lo, xt[0]), max(x_hi, xt[-1])

    def px(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * pw

    def py(y: float) -> float:
        return bottom + (y - y_lo) / (y_hi - y_lo) * ph

    d.add(Rect(left, bottom, pw, ph, strokeColor=_RULE, fillColor=colors.Color(0.985, 0.985, 0.99), strokeWidth=0.5))
    for t in yt:
        y = py(t)
        d.add(Line(left - 2.5, y, left, y, strokeColor=_GREY, strokeWidth=0.5))
        d.add(String(left - 4, y - 2.4, _tick_text(t, yt), fontName=font, fontSize=6.2, textAnchor="end",
                     fillColor=_GREY))
    for t in xt:
        x = px(t)
        d.add(Line(x, bottom - 2.5, x, bottom, strokeColor=_GREY, strokeWidth=0.5))
        d.add(String(x, bottom - 10, _tick_text(t, xt), fontName=font, fontSize=6.2, textAnchor="middle",
                     fillColor=_GREY))
    d.add(Line(left, bottom, left, bottom + ph, strokeColor=_GREY, strokeWidth=0.7))
    d.add(Line(left, bottom, left + pw, bottom, strokeColor=_GREY, strokeWidth=0.7))
    if y_lo < 0 < y_hi:
        d.add(Line(left, py(0), left + pw, py(0), strokeColor=_RULE, strokeWidth=0.5, strokeDashArray=[1, 2]))

    def hline(y: float, color: colors.Color, dash: list[float] | None, name: str) -> None:
        # The label sits right of the plot, name above the line and value below, clear of the points.
        d.add(Line(left, py(y), left + pw, py(y), strokeColor=color, strokeWidth=0.9, strokeDashArray=dash))
        d.add(String(left + pw + 3, py(y) + 1.8, name, fontName=font, fontSize=6.0, fillColor=color))
        d.add(String(left + pw + 3, py(y) - 6.2, _f(y, 2), fontName=font, fontSize=6.0, fillColor=color))

    if math.isfinite(ba.sd) and ba.sd > 0:  # with SD 0 the limits would hide the bias line
        hline(ba.loa[1], _LOA, [3, 2], "+1.96 SD")
        hline(ba.loa[0], _LOA, [3, 2], "−1.96 SD")
    hline(ba.bias, _BIAS, None, "bias")
    stacked: dict[tuple[float, float], int] = {}
    for x, y in zip(xs, ys):
        spot = (round(px(x), 1), round(py(y), 1))
        stacked[spot] = stacked.get(spot, 0) + 1
    for (x, y), count in stacked.items():
        d.add(Circle(x, y, 1.8, fillColor=_POINT, strokeColor=colors.white, strokeWidth=0.4))
        if count > 1:  # subjects on the same spot would hide each other
            d.add(String(x + 2.8, y + 1.5, f"×{count}", fontName=font, fontSize=5.5, fillColor=_POINT))
    unit_text = f" ({sym})" if sym else ""
    d.add(String(left + pw / 2, 5, f"Mean of {first} and {second}{unit_text}", fontName=font, fontSize=6.8,
                 textAnchor="middle"))
    label = String(0, 0, f"{first} − {second}{unit_text}", fontName=font, fontSize=6.8, textAnchor="middle")
    from reportlab.graphics.shapes import Group

    g = Group(label)
    g.transform = (0, 1, -1, 0, 8, bottom + ph / 2)  # rotated 90 degrees, reading upward
    d.add(g)
    return d


class _DrawingFlowable(Flowable):
    def __init__(self, drawing: Drawing) -> None:
        super().__init__()
        self.drawing = drawing
        self.width, self.height = drawing.width, drawing.height

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        from reportlab.graphics import renderPDF

        renderPDF.draw(self.drawing, self.canv, 0, 0)


# --- the document ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgreementReportInfo:
    path: Path
    page_count: int
    plots: int  # Bland–Altman plots drawn


def _styles() -> dict[str, ParagraphStyle]:
    fonts = _get_fonts()
    base = ParagraphStyle("body", fontName=fonts.regular, fontSize=8.5, leading=11.2)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.2, leading=9.2, textColor=_GREY),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.8, leading=9.4),
        "cellb": ParagraphStyle("cellb", parent=base, fontName=fonts.bold, fontSize=7.8, leading=9.4),
        "h1": ParagraphStyle("h1", parent=base, fontName=fonts.bold, fontSize=15, leading=18, textColor=_ACCENT),
        "h2": ParagraphStyle("h2", parent=base, fontName=fonts.bold, fontSize=11, leading=14, spaceBefore=8,
                             spaceAfter=2, textColor=_ACCENT),
        "h3": ParagraphStyle("h3", parent=base, fontName=fonts.bold, fontSize=9, leading=11.5, spaceBefore=5,
                             spaceAfter=2),
    }


def _p(text: str, style: ParagraphStyle, bold: bool = False) -> Paragraph:
    return Paragraph(_get_fonts().markup(text, bold), style)


def _table(rows: list[list[Any]], widths: list[float], header_rows: int = 1, bold_rows: Sequence[int] = ()) -> Table:
    st = _styles()
    cells = [[c if isinstance(c, Flowable) else _p(str(c), st["cellb"] if (r < header_rows or r in bold_rows)
                                                     else st["cell"]) for c in row] for r, row in enumerate(rows)]
    t = Table(cells, colWidths=widths, hAlign="LEFT", repeatRows=header_rows)
    t.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, header_rows - 1), 0.6, _RULE),
        ("BACKGROUND", (0, 0), (-1, header_rows - 1), _HEAD_BG),
        ("LINEBELOW", (0, -1), (-1, -1), 0.4, _RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 1.6), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.6),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    return t


def _summary(result: AgreementResult, width: float) -> list[Flowable]:
    st = _styles()
    out: list[Flowable] = []
    sessions = "; ".join(f"{r}: session{'s' if len(s) > 1 else ''} {', '.join(map(str, s))}"
                         for r, s in result.sessions.items())
    out.append(_p(f"Folder: {result.folder.name or str(result.folder)}", st["body"]))
    out.append(_p(f"Readers: {', '.join(result.readers) or '—'} ({sessions or 'none'})", st["body"]))
    out.append(_p(f"Subjects (limbs of films): {len(result.subjects)}", st["body"]))
    missing = [f"{r} {len(s)}" for r, s in result.not_measured.items() if s]
    if missing:
        out.append(_p("Subjects a reader did not measure in the first session: " + ", ".join(missing)
                      + " (named in the JSON output).", st["body"]))
    out.append(Spacer(1, 4))
    out.append(_p(NOTES, st["small"]))
    out.append(Spacer(1, 6))
    out.append(_p("Summary", st["h2"]))
    rows: list[list[Any]] = [["Measurement", "n", "ICC(A,1)", "95 % CI", "Reading (Koo & Li)", "SEM", "MDC95"]]
    for key, m in result.measurements.items():
        sym = unit_symbol(m.unit)
        if m.icc is None:
            rows.append([measurement_label(key), str(m.n), "—", "—", m.unavailable or "—", "—", "—"])
            continue
        ci = m.icc.ci95[HEADLINE]
        rows.append([measurement_label(key), str(m.n), _f(m.icc.icc[HEADLINE], 3), _ci(ci), koo_li_reading(ci),
                     _f(m.sem, 2) + sym if math.isfinite(m.sem) else "—",
                     _f(m.mdc95, 2) + sym if math.isfinite(m.mdc95) else "—"])
    if len(rows) == 1:
        rows.append(["No measurement is present in 3 or more subjects.", "", "", "", "", "", ""])
    w = [32 * mm, 10 * mm, 18 * mm, 26 * mm, None, 20 * mm, 20 * mm]
    fixed = sum(x for x in w if x is not None)
    out.append(_table(rows, [x if x is not None else width - fixed for x in w]))
    if result.skipped:
        out.append(_p("Files left out", st["h2"]))
        rows = [["File", "Reason"]] + [[s.file, s.reason] for s in result.skipped]
        out.append(_table(rows, [70 * mm, width - 70 * mm]))
    return out


def _measurement_section(m: MeasurementAgreement, width: float) -> tuple[list[Flowable], int]:
    st = _styles()
    sym = unit_symbol(m.unit)
    head: list[Flowable] = []
    desc = measurement_description(m.key)
    unit_name = {"deg": "degrees", "mm": "mm", "px": "pixels"}.get(m.unit, m.unit)
    head.append(_p(f"{measurement_label(m.key)} — {desc} ({unit_name})" if desc else measurement_label(m.key),
                   st["h2"]))
    head.append(_p(f"n = {m.n} subjects measured by every reader's first session ({m.subjects_present} subjects "
                   f"have this measurement); readers {', '.join(m.readers)}.", st["small"]))
    blocks: list[Flowable] = []
    if m.icc is not None:
        rows: list[list[Any]] = [["Form", "Model (McGraw & Wong 1996)", "ICC", "95 % CI"]]
        for form in ICC_FORMS:
            rows.append([form, MODELS[form], _f(m.icc.icc[form], 3), _ci(m.icc.ci95[form])])
        bold = [1 + ICC_FORMS.index(HEADLINE)]
        table = _table(rows, [20 * mm, 70 * mm, 18 * mm, 30 * mm], bold_rows=bold)
        notes = [_p(note[0].upper() + note[1:] + ".", st["small"]) for note in icc_notes(m.icc)]
        blocks.append(KeepTogether(head + [table, Spacer(1, 2),
                                           _p(f"SEM {_f(m.sem, 2)}{sym} · MDC95 {_f(m.mdc95, 2)}{sym} · reading of "
                                              f"ICC(A,1): {koo_li_reading(m.icc.ci95[HEADLINE])}", st["body"]),
                                           *notes]))
    else:
        blocks.append(KeepTogether(head + [_p(f"No inter-reader ICC: {m.unavailable or 'not enough data'}.",
                                              st["body"])]))
    if m.bland_altman:
        rows = [["Readers", "n", "Bias", "SD", "95 % limits of agreement"]]
        for pair, ba in m.bland_altman.items():
            a, b = pair.split("|", 1)
            rows.append([f"{a} − {b}", str(ba.n), _f(ba.bias, 2) + sym, _f(ba.sd, 2) + sym if math.isfinite(ba.sd)
                         else "—", f"{_f(ba.loa[0], 2)} to {_f(ba.loa[1], 2)}{sym}" if math.isfinite(ba.sd) else "—"])
        blocks.append(KeepTogether([_p("Bland–Altman", st["h3"]),
                                    _table(rows, [28 * mm, 12 * mm, 22 * mm, 22 * mm, 46 * mm])]))
    if m.intra:
        rows = [["Reader", "Sessions", "n", "ICC(A,1)", "95 % CI", "SEM"]]
        for reader, intra in m.intra.items():
            ci = intra.icc.ci95[HEADLINE] if intra.icc is not None else None
            rows.append([reader, ", ".join(map(str, intra.sessions)), str(intra.n), _f(intra.icc_a1, 3), _ci(ci),
                         (_f(intra.sem, 2) + sym) if math.isfinite(intra.sem) else (intra.unavailable or "—")])
        blocks.append(KeepTogether([_p("Intra-reader (each reader's sessions)", st["h3"]),
                                    _table(rows, [22 * mm, 22 * mm, 12 * mm, 20 * mm, 30 * mm, 26 * mm])]))
    plots = [(pair, ba) for pair, ba in m.bland_altman.items() if ba.n >= 1]
    if plots:
        cell_w = (width - 4 * mm) / 2
        drawings = [_DrawingFlowable(bland_altman_drawing(ba, *pair.split("|", 1), m.unit, width=cell_w - 2 * mm))
                    for pair, ba in plots]
        grid = [drawings[i:i + 2] + [""] * (2 - len(drawings[i:i + 2])) for i in range(0, len(drawings), 2)]
        t = Table(grid, colWidths=[cell_w, cell_w], hAlign="LEFT")
        t.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        blocks.append(Spacer(1, 3))
        blocks.append(t)
    return blocks, len(plots)


def _canvas_class(page_size: tuple[float, float], margin: float, footer_left: str) -> type[rl_canvas.Canvas]:
    fonts = _get_fonts()
    width, _height = page_size

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
                y = margin - 14
                self.setStrokeColor(_RULE)
                self.setLineWidth(0.5)
                self.line(margin, y + 9, width - margin, y + 9)
                self.setFillColor(_GREY)
                fonts.draw(self, margin, y, footer_left, 7)
                fonts.draw(self, width - margin, y, f"page {self._pageNumber} of {total}", 7, bold=True,
                           align="right")
                super().showPage()
            super().save()

    return NumberedCanvas


def build_agreement_pdf(result: AgreementResult, out_path: str | os.PathLike[str], paper: str = "a4",
                        generated: _dt.datetime | None = None) -> AgreementReportInfo:
    """Write the agreement study's PDF to `out_path` (atomically); raises AgreementReportError."""
    out_path = Path(out_path)
    page = PAPERS.get(paper, A4)
    margin = 16 * mm
    width = page[0] - 2 * margin
    st = _styles()
    when = (generated or _dt.datetime.now()).strftime("%Y-%m-%d %H:%M")
    story: list[Flowable] = [_p(TITLE, st["h1"]), _p(f"Generated {when} by deformity-app {__version__}", st["small"]),
                             Spacer(1, 6)]
    story += _summary(result, width)
    plots = 0
    for m in result.measurements.values():
        section, count = _measurement_section(m, width)
        story += section
        plots += count

    folder = out_path.parent if str(out_path.parent) else Path(".")
    if not folder.is_dir():
        raise AgreementReportError("the folder to write the PDF into does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{out_path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise AgreementReportError(f"cannot write there ({exc.strerror or exc})") from None
    try:
        doc = BaseDocTemplate(tmp, pagesize=page, leftMargin=margin, rightMargin=margin, topMargin=margin,
                              bottomMargin=margin, title=TITLE, author=f"deformity-app {__version__}",
                              subject="Inter- and intra-reader agreement")
        frame = Frame(margin, margin, width, page[1] - 2 * margin, id="body", leftPadding=0, rightPadding=0,
                      topPadding=0, bottomPadding=0)
        doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
        footer = f"{TITLE}: {result.folder.name or str(result.folder)}"
        doc.build(story, canvasmaker=_canvas_class(page, margin, footer))
        pages = doc.page
        os.chmod(tmp, USUAL_FILE_MODE)  # mkstemp makes 0600
        os.replace(tmp, out_path)
    except OSError as exc:
        raise AgreementReportError(f"cannot write the PDF ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return AgreementReportInfo(out_path, pages, plots)


__all__ = ["AgreementReportError", "AgreementReportInfo", "bland_altman_drawing", "build_agreement_pdf",
           "koo_li_reading", "measurement_label", "nice_ticks"]
