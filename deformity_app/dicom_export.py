"""The analysis as DICOM objects that go back to the PACS (dicom-exchange.md, "Results as DICOM").

Four objects, each in a new series of the film's study, with the film's patient and study modules
copied, new UIDs, this program's name and version in the equipment module, and the film
referenced:

- ``sr``: Comprehensive 3D SR, TID 1500 Measurement Report (highdicom). One measurement group
  per limb (tracking identifier "Right lower limb" / "Left lower limb") with every value of
  ``measure`` as a NUM in UCUM units, each inferred from the landmarks it uses as SCOORD points on
  the film, and the limb's MAT sentence as TEXT; one planar ROI group per landmark (a POINT region,
  named by its finding type) so that the landmarks can be read back by name; the limb-length
  discrepancy in a group of its own ("Both lower limbs").
- ``gsps``: Grayscale Softcopy Presentation State: the overlay of
  :func:`measurements.overlay.build_overlay` (axes, joint lines, arcs, MAD, labels) as graphic and
  text annotations in one layer per overlay layer, and the window chosen.
- ``sc``: Secondary Capture of the annotated film: the windowed film with the same overlay
  burned in (8-bit RGB), for viewers without GSPS.
- ``pdf``: the PDF report (:func:`deformity_app.report.build_report`) as Encapsulated PDF.

Coordinates: the case's pixel coordinates have their origin at the centre of the top-left
pixel; DICOM's SCOORD and graphic annotation coordinates at its top-left corner. Every point is
shifted by half a pixel on the way out (and back in :func:`landmarks_from_sr`).

No Qt. Text is written in UTF-8 (Specific Character Set ``ISO_IR 192``): labels carry "°" and the
patient's name may be in any script.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import cv2
import highdicom as hd
import numpy as np
from highdicom.coding_schemes import CodingSchemeIdentificationItem
from highdicom.sr import CodedConcept
from PIL import Image, ImageDraw, ImageFont
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sr.codedict import codes
from pydicom.uid import EncapsulatedPDFStorage, ExplicitVRLittleEndian, RLELossless

from measurements.case import Case
from measurements.landmarks import LANDMARK_INFO, Side
from measurements.measure import REQUIREMENTS, CaseResult, measure_case
from measurements.overlay import ROLE_RGB, Label, Layer, Overlay, build_overlay
from measurements.present import DESCRIPTIONS, LABELS

from . import __version__

log = logging.getLogger(__name__)

__all__ = [
    "ExportError",
    "ExportOptions",
    "ExportedObject",
    "KINDS",
    "CODING_SCHEME",
    "MEASUREMENT_CODES",
    "LANDMARK_CODES",
    "build_objects",
    "write_objects",
    "export_case",
    "render_annotated",
    "landmarks_from_sr",
]

KINDS = ("sr", "gsps", "sc", "pdf")
MANUFACTURER = "deformity-app"
MODEL = "deformity-app"
CHARSET = "ISO_IR 192"  # UTF-8
SERIES_NUMBERS = {"sr": 9001, "gsps": 9002, "sc": 9003, "pdf": 9004}
SERIES_DESCRIPTIONS = {
    "sr": "Long-leg alignment measurements",
    "gsps": "Long-leg alignment overlay",
    "sc": "Long-leg alignment (annotated film)",
    "pdf": "Long-leg alignment report",
}

# No SNOMED CT or LOINC concept for these measurements is in the DICOM code tables (checked
# against pydicom's copy of PS3.16), so they are coded in a private scheme of the project,
# declared in each object's Coding Scheme Identification Sequence ("99" designators are local).
CODING_SCHEME = "99DEFAPP"
CODING_SCHEME_NAME = "deformity-app long-leg alignment concepts"

_MEASUREMENT_VALUES = {
    "mad": "MAD", "mfta": "MFTA", "hka": "HKA", "mlpfa": "MLPFA", "ampfa": "AMPFA", "nsa": "NSA",
    "mldfa": "MLDFA", "aldfa": "ALDFA", "ama": "AMA", "mpta": "MPTA", "ldta": "LDTA", "jlca": "JLCA",
    "mechanical_axis_length": "MECH_AXIS_LEN", "femur_length": "FEMUR_LEN", "tibia_length": "TIBIA_LEN",
    "limb_length": "LIMB_LEN", "lld": "LLD",
}


def _stem(key: str) -> str:
    for suffix in ("_deg", "_mm", "_px"):
        if key.endswith(suffix):
            return key[: -len(suffix)]
    return key


def _meaning(key: str) -> str:
    if _stem(key) == "lld":
        return "LLD, limb-length discrepancy (right minus left)"
    base = key if key in LABELS else _stem(key) + "_mm"
    text = f"{LABELS.get(base, base)}, {DESCRIPTIONS.get(base, '')}".rstrip(", ")
    return text[:64]


#: Concept name of each `measure` key (mm and px twins share the concept; the unit differs).
MEASUREMENT_CODES: dict[str, CodedConcept] = {}
for _key in list(REQUIREMENTS) + ["lld_mm"]:
    _code = CodedConcept(_MEASUREMENT_VALUES[_stem(_key)], CODING_SCHEME, _meaning(_key))
    MEASUREMENT_CODES[_key] = _code
    if _key.endswith("_mm"):
        MEASUREMENT_CODES[_stem(_key) + "_px"] = _code

_LANDMARK_VALUES = {
    "femoral_head_center": "FEM_HEAD_CTR", "femoral_head_top": "FEM_HEAD_TOP", "greater_trochanter_tip": "GT_TIP",
    "femoral_neck_midpoint": "FEM_NECK_MID", "femoral_shaft_proximal_mid": "FEM_SHAFT_PROX",
    "femoral_shaft_distal_mid": "FEM_SHAFT_DIST", "femoral_condyle_medial": "FEM_CONDYLE_MED",
    "femoral_condyle_lateral": "FEM_CONDYLE_LAT", "knee_center": "KNEE_CTR",
    "tibial_plateau_medial": "TIB_PLATEAU_MED", "tibial_plateau_lateral": "TIB_PLATEAU_LAT",
    "tibial_shaft_proximal_mid": "TIB_SHAFT_PROX", "tibial_shaft_distal_mid": "TIB_SHAFT_DIST",
    "plafond_medial": "PLAFOND_MED", "plafond_lateral": "PLAFOND_LAT", "ankle_center": "ANKLE_CTR",
}
#: Concept (finding type) of each landmark of case-format.md.
LANDMARK_CODES: dict[str, CodedConcept] = {
    info.name: CodedConcept(_LANDMARK_VALUES[info.name], CODING_SCHEME, info.label) for info in LANDMARK_INFO
}
_LANDMARK_BY_VALUE = {code.value: name for name, code in LANDMARK_CODES.items()}

UNITS = {
    "deg": CodedConcept("deg", "UCUM", "degree"),
    "mm": CodedConcept("mm", "UCUM", "millimeter"),
    "px": CodedConcept("{pixels}", "UCUM", "pixels"),
}
_SIDE_CODES = {Side.RIGHT: codes.SCT.Right, Side.LEFT: codes.SCT.Left}
_LIMB = codes.SCT.LowerLimbStructure
_PROCEDURE = codes.SCT.ImagingProcedure


class ExportError(Exception):
    """Results that cannot be written as DICOM; ``str()`` is a sentence for the user."""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What to write and how.

    `window` is (centre, width) in modality values, as the user chose it in the viewer; None takes
    the film's first window preset, else its automatic window. `layers` limits the overlay drawn
    in the GSPS and the secondary capture. `report` is passed to the PDF report.
    """

    kinds: tuple[str, ...] = KINDS
    window: tuple[float, float] | None = None
    layers: frozenset[Layer] = frozenset(Layer)
    report: Any = None  # deformity_app.report.ReportOptions
    observer: str | None = None  # who measured; default: the case's "reader" key, else the device only


@dataclass(frozen=True)
class ExportedObject:
    """One object built in memory: write it with :func:`write_objects` or send it with
    ``dicom_io.pacs`` ``client.store([obj.dataset, ...])``."""

    kind: str
    dataset: Dataset
    description: str

    @property
    def sop_instance_uid(self) -> str:
        return str(self.dataset.SOPInstanceUID)

    @property
    def series_instance_uid(self) -> str:
        return str(self.dataset.SeriesInstanceUID)

    @property
    def sop_class_uid(self) -> str:
        return str(self.dataset.SOPClassUID)

    def file_name(self, stem: str) -> str:
        return f"{stem}.{self.kind}.dcm"


@dataclass
class _Context:
    case: Case
    result: CaseResult
    overlay: Overlay
    film: Dataset  # the film's header, text decoded, character set UTF-8
    radiograph: Any
    window: tuple[float, float] | None  # (centre, width)
    options: ExportOptions
    now: _dt.datetime
    case_path: Path | None
    film_path: Path
    warnings: list[str] = field(default_factory=list)

    def common(self, kind: str) -> dict[str, Any]:
        return dict(
            series_instance_uid=hd.UID(),
            series_number=SERIES_NUMBERS[kind],
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer=MANUFACTURER,
        )


# --- reading the film ---------------------------------------------------------------------------------


def _film_header(path: Path) -> Dataset:
    try:
        header = dcmread(path, stop_before_pixels=True)
    except FileNotFoundError:
        raise ExportError(f"The film {path} is not found.") from None
    except (InvalidDicomError, OSError, ValueError, TypeError, EOFError):
        raise ExportError(f"The film {path} is not a DICOM file: results can only join a DICOM study.") from None
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"):
        if not str(header.get(keyword, "") or "").strip():
            raise ExportError(f"The film {path} has no {keyword}: results cannot be attached to its study.")
    header.decode()  # text as Unicode, so that it can be written again in UTF-8
    header.SpecificCharacterSet = CHARSET
    # Patient and study attributes that are type 2 in the objects we write: present, maybe empty.
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "ReferringPhysicianName", "StudyID", "AccessionNumber"):
        if keyword not in header:
            setattr(header, keyword, "")
    return header


def _check_case_matches(case: Case, header: Dataset, radiograph: Any, film_path: Path) -> None:
    uid = str(case.image.get("sop_instance_uid") or "")
    if uid and uid != str(header.SOPInstanceUID):
        raise ExportError(f"The film {film_path} is not the image the case names (its SOP Instance UID differs): "
                          "the results would be attached to the wrong image.")
    rows, cols = case.image.get("rows"), case.image.get("columns")
    if isinstance(rows, int) and isinstance(cols, int) and (rows, cols) != (radiograph.rows, radiograph.columns):
        raise ExportError(f"The film {film_path} is {radiograph.rows} x {radiograph.columns} pixels but the landmarks "
                          f"were placed on a {rows} x {cols} image.")


def _window(radiograph: Any, chosen: tuple[float, float] | None) -> tuple[float, float] | None:
    if chosen is not None:
        return float(chosen[0]), max(float(chosen[1]), 1.0)
    if radiograph.window_presets:
        p = radiograph.window_presets[0]
        return float(p.center), max(float(p.width), 1.0)
    if radiograph.voi_lut is not None:
        return None  # the film's own VOI LUT
    a = radiograph.auto_window
    return float(a.center), max(float(a.width), 1.0)


# --- geometry helpers -------------------------------------------------------------------------------------


def _dicom_point(p: Sequence[float]) -> tuple[float, float]:
    """Case pixel coordinates (origin at the centre of the top-left pixel) to DICOM's (its corner)."""
    return float(p[0]) + 0.5, float(p[1]) + 0.5


def _clip_segment(a: np.ndarray, b: np.ndarray, width: float, height: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Liang-Barsky: the part of segment a-b inside [0, width] x [0, height], or None."""
    d = b - a
    t0, t1 = 0.0, 1.0
    for p, q in ((-d[0], a[0]), (d[0], width - a[0]), (-d[1], a[1]), (d[1], height - a[1])):
        if abs(p) < 1e-12:
            if q < 0:
                return None
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    return a + t0 * d, a + t1 * d


def _clip_polyline(points: Sequence[Sequence[float]], width: float, height: float) -> list[np.ndarray]:
    """The pieces of a polyline (DICOM coordinates) inside the image, each an (N, 2) array."""
    pieces: list[list[np.ndarray]] = []
    current: list[np.ndarray] = []
    pts = [np.asarray(p, dtype=float) for p in points]
    for a, b in zip(pts, pts[1:]):
        clipped = _clip_segment(a, b, width, height)
        if clipped is None:
            if current:
                pieces.append(current)
                current = []
            continue
        ca, cb = clipped
        if current and np.allclose(current[-1], ca):
            current.append(cb)
        else:
            if current:
                pieces.append(current)
            current = [ca, cb]
        if not np.allclose(cb, b):  # left the image: the next inside part starts a new piece
            pieces.append(current)
            current = []
    if current:
        pieces.append(current)
    return [np.clip(np.array(p), 0.0, [width, height]) for p in pieces if len(p) >= 2]


# --- SR -------------------------------------------------------------------------------------------------


def _coding_schemes() -> list[CodingSchemeIdentificationItem]:
    return [CodingSchemeIdentificationItem(designator=CODING_SCHEME, name=CODING_SCHEME_NAME,
                                                 responsible_organization="deformity-app contributors")]


def _source_region(film: Dataset) -> hd.sr.SourceImageForRegion:
    return hd.sr.SourceImageForRegion(referenced_sop_class_uid=film.SOPClassUID,
                                      referenced_sop_instance_uid=film.SOPInstanceUID)


def _unit(key: str) -> CodedConcept:
    return UNITS["deg" if key.endswith("_deg") else "mm" if key.endswith("_mm") else "px"]


def _measurement_keys(limb_json: dict[str, Any], calibrated: bool) -> list[str]:
    keys = []
    for key in REQUIREMENTS:
        if key in limb_json:
            keys.append(key)
        elif not calibrated and key.endswith("_mm") and _stem(key) + "_px" in limb_json:
            keys.append(_stem(key) + "_px")
    return keys


def _build_sr(ctx: _Context) -> Dataset:
    film = ctx.film
    source = _source_region(film)
    groups: list[Any] = []
    landmark_groups: list[Any] = []
    for side in (Side.RIGHT, Side.LEFT):
        limb_result = ctx.result.limbs.get(side)
        limb = ctx.case.limbs.get(side)
        if limb_result is None or limb is None or not limb.landmarks:
            continue  # a limb nobody measured is left out, not reported as a group saying "not assessed"
        data = limb_result.to_json()
        site = hd.sr.FindingSite(anatomic_location=_LIMB, laterality=_SIDE_CODES[side])
        measurements = []
        for key in _measurement_keys(data, ctx.result.calibrated):
            requirement = REQUIREMENTS[key if key in REQUIREMENTS else _stem(key) + "_mm"]
            names = list(requirement)
            if key.startswith("limb_length") and limb_result.limb_length_basis == "head_top":
                names = ["femoral_head_top"] + [n for n in names if n != "femoral_head_center"]
            coordinates = [
                hd.sr.CoordinatesForMeasurement(graphic_type=hd.sr.GraphicTypeValues.POINT,
                                                graphic_data=np.array([_dicom_point(limb.landmarks[n])]),
                                                source_image=source)
                for n in names if n in limb.landmarks
            ]
            measurements.append(hd.sr.Measurement(name=MEASUREMENT_CODES[key], value=float(data[key]),
                                                  unit=_unit(key), referenced_coordinates=coordinates or None))
        group = hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"{side.label} lower limb"),
            finding_sites=[site],
            measurements=measurements or None,
        )
        summary = str(limb_result.mat.get("summary", "")).strip()
        if summary:
            group[0].ContentSequence.append(hd.sr.TextContentItem(
                name=codes.DCM.Finding, value=summary[:1024],
                relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))
        groups.append(group)
        for name, point in limb.landmarks.items():
            code = LANDMARK_CODES.get(name)
            if code is None:
                continue  # a landmark of another program: kept in the case file, not coded here
            region = hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POINT,
                                       graphic_data=np.array([_dicom_point(point)]), source_image=source)
            landmark_groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(),
                                                             identifier=f"{side.label} {code.meaning.lower()}"),
                referenced_region=region,
                finding_type=code,
                finding_sites=[site],
            ))
    if ctx.result.lld_mm is not None or ctx.result.lld_px is not None:
        key, value = ("lld_mm", ctx.result.lld_mm) if ctx.result.lld_mm is not None else ("lld_px", ctx.result.lld_px)
        unit = UNITS["mm" if key == "lld_mm" else "px"]
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="Both lower limbs"),
            finding_sites=[hd.sr.FindingSite(anatomic_location=_LIMB)],
            measurements=[hd.sr.Measurement(name=MEASUREMENT_CODES["lld_mm"], value=round(float(value), 2) + 0.0,
                                            unit=unit)],
        ))
    if not groups:
        raise ExportError("The case has no landmarks on either limb: there is nothing to report.")

    observer = ctx.options.observer or str(ctx.case.extra.get("reader") or "").strip() or None
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name=MODEL, manufacturer_name=MANUFACTURER, model_name=MODEL))
    person = None
    if observer:
        person = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=observer[:64]))
    context = hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device)
    report = hd.sr.MeasurementReport(observation_context=context, procedure_reported=_PROCEDURE,
                                     imaging_measurements=groups + landmark_groups)
    sr = hd.sr.Comprehensive3DSR(
        evidence=[film],
        content=report,
        **ctx.common("sr"),
        is_complete=True,
        is_final=False,
        is_verified=False,
        series_description=SERIES_DESCRIPTIONS["sr"],
        coding_schemes=_coding_schemes(),
        specific_character_set=CHARSET,
    )
    _equipment(sr)
    return sr


# --- GSPS -----------------------------------------------------------------------------------------------

_LAYER_COLOURS: dict[str, tuple[int, int, int]] = {
    "AXES": (255, 235, 59),
    "JOINT_LINES": (120, 255, 120),
    "ANGLES": (255, 255, 255),
    "MAD": (255, 100, 255),
    "ANATOMIC": (150, 170, 255),
    "OUT_OF_RANGE": (255, 60, 60),
}
_LAYER_DESCRIPTIONS = {
    "AXES": "Mechanical axes", "JOINT_LINES": "Joint lines", "ANGLES": "Angles", "MAD": "MAD",
    "ANATOMIC": "Anatomic axes", "OUT_OF_RANGE": "Values outside the normal range",
}


def _layer_name(layer: Layer, abnormal: bool) -> str:
    return "OUT_OF_RANGE" if abnormal else str(layer.value).upper()


def _build_gsps(ctx: _Context) -> Dataset:
    film = ctx.film
    if int(film.get("SamplesPerPixel", 1)) != 1:
        raise ExportError("The film is in colour: a grayscale presentation state cannot be made for it "
                          "(the secondary capture shows the analysis instead).")
    width, height = float(ctx.radiograph.columns), float(ctx.radiograph.rows)
    graphics: dict[str, list[hd.pr.GraphicObject]] = {}
    texts: dict[str, list[hd.pr.TextObject]] = {}
    for line in ctx.overlay.polylines:
        name = _layer_name(line.layer, line.abnormal)
        for piece in _clip_polyline([_dicom_point(p) for p in line.points], width, height):
            graphics.setdefault(name, []).append(hd.pr.GraphicObject(
                graphic_type=hd.pr.GraphicTypeValues.POLYLINE, graphic_data=piece,
                units=hd.pr.AnnotationUnitsValues.PIXEL))
    for label in ctx.overlay.labels:
        name = _layer_name(label.layer, label.abnormal)
        x, y = _dicom_point(label.anchor)
        anchor = (min(max(x, 0.0), width), min(max(y, 0.0), height))
        texts.setdefault(name, []).append(hd.pr.TextObject(
            text_value=label.text, units=hd.pr.AnnotationUnitsValues.PIXEL, anchor_point=anchor,
            anchor_point_visible=False))
    names = [n for n in _LAYER_COLOURS if n in graphics or n in texts]
    layers = [hd.pr.GraphicLayer(layer_name=n, order=i + 1, description=_LAYER_DESCRIPTIONS[n],
                                 display_color=hd.color.CIELabColor.from_rgb(*_LAYER_COLOURS[n]))
              for i, n in enumerate(names)]
    by_name = {layer.GraphicLayer: layer for layer in layers}
    annotations = [hd.pr.GraphicAnnotation(referenced_images=[film], graphic_layer=by_name[n],
                                           graphic_objects=graphics.get(n) or None, text_objects=texts.get(n) or None)
                   for n in names]
    voi = None
    if ctx.window is not None:
        voi = [hd.pr.SoftcopyVOILUTTransformation(window_center=ctx.window[0], window_width=ctx.window[1],
                                                  window_explanation="As shown in deformity-app")]
    presentation = None
    if str(film.get("PhotometricInterpretation", "")) == "MONOCHROME1":
        presentation = hd.PresentationLUTTransformation(presentation_lut_shape=hd.PresentationLUTShapeValues.INVERSE)
    gsps = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[film],
        **ctx.common("gsps"),
        manufacturer_model_name=MODEL,
        software_versions=__version__,
        device_serial_number="0",
        content_label="ALIGNMENT",
        content_description="Long-leg alignment analysis"[:64],
        graphic_annotations=annotations or None,
        graphic_layers=layers or None,
        voi_lut_transformations=voi,
        presentation_lut_transformation=presentation,
        series_description=SERIES_DESCRIPTIONS["gsps"],
        specific_character_set=CHARSET,
    )
    _laterality(gsps, film)
    _equipment(gsps)
    return gsps


# --- Secondary Capture ---------------------------------------------------------------------------------

_ABNORMAL_RGB = (255, 60, 60)
_SHIFT = 4  # cv2 fixed-point bits: sub-pixel line positions


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        from resources import resource_path

        return ImageFont.truetype(str(resource_path("fonts", "DejaVuSans.ttf")), size)
    except (OSError, ImportError):
        return ImageFont.load_default()


def render_annotated(radiograph: Any, overlay: Overlay, window: tuple[float, float] | None,
                     landmarks: Sequence[tuple[float, float]] = ()) -> np.ndarray:
    """The film windowed to 8 bits with the overlay burned in: (rows, columns, 3) uint8 RGB.

    `window` is (centre, width) in modality values (None: the film's VOI LUT). Lines are drawn
    anti-aliased with sub-pixel positions (OpenCV), labels in DejaVu Sans with a dark outline
    (Pillow), both sized to the film (about 0.15 % and 1.1 % of its height).
    """
    from .report import render_region

    rows, cols = radiograph.rows, radiograph.columns
    low_high = None if window is None else (window[0] - window[1] / 2.0, window[0] + window[1] / 2.0)
    grey = render_region(radiograph, 0, 0, cols, rows, cols, rows, window=low_high)
    rgb = np.ascontiguousarray(grey if grey.ndim == 3 else np.repeat(grey[:, :, None], 3, axis=2))
    thickness = max(1, int(round(rows * 0.0015)))
    scale = 1 << _SHIFT
    for line in overlay.polylines:
        pts = np.round((np.asarray(line.points, dtype=float)) * scale).astype(np.int32).reshape(-1, 1, 2)
        colour = _ABNORMAL_RGB if line.abnormal else ROLE_RGB.get(line.role, (255, 255, 255))
        if line.dashed:
            _dashed(rgb, np.asarray(line.points, dtype=float), colour, thickness, dash=max(6.0, rows * 0.006))
        else:
            cv2.polylines(rgb, [pts], False, colour, thickness, cv2.LINE_AA, _SHIFT)
    radius = max(2, thickness * 2)
    for x, y in landmarks:
        cv2.circle(rgb, (int(round(x * scale)), int(round(y * scale))), radius * scale, (80, 200, 255), thickness,
                   cv2.LINE_AA, _SHIFT)
    if overlay.labels:
        picture = Image.fromarray(rgb)
        draw = ImageDraw.Draw(picture)
        size = max(11, int(round(rows * 0.011)))
        font = _font(size)
        stroke = max(1, size // 8)
        for label in overlay.labels:
            _draw_label(draw, font, label, stroke, cols, rows)
        rgb = np.asarray(picture)
    return np.ascontiguousarray(rgb)


def _dashed(img: np.ndarray, pts: np.ndarray, colour: tuple[int, int, int], thickness: int, dash: float) -> None:
    scale = 1 << _SHIFT
    for a, b in zip(pts, pts[1:]):
        length = float(np.linalg.norm(b - a))
        if length < 1e-9:
            continue
        n = max(1, int(length // dash))
        for i in range(0, n, 2):
            p = a + (b - a) * (i / n)
            q = a + (b - a) * (min(i + 1, n) / n)
            cv2.line(img, tuple(int(v) for v in np.round(p * scale)), tuple(int(v) for v in np.round(q * scale)),
                     colour, thickness, cv2.LINE_AA, _SHIFT)


def _draw_label(draw: ImageDraw.ImageDraw, font: Any, label: Label, stroke: int, cols: int, rows: int) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), label.text, font=font, stroke_width=stroke)
    w, h = right - left, bottom - top
    dx, dy = label.direction
    # Place the text on the side of the anchor the overlay asks for, then keep it inside the film.
    x = label.anchor[0] - w / 2.0 + dx * w / 2.0
    y = label.anchor[1] - h / 2.0 + dy * h / 2.0
    x = min(max(x, 0.0), max(cols - w, 0.0))
    y = min(max(y, 0.0), max(rows - h, 0.0))
    colour = _ABNORMAL_RGB if label.abnormal else (255, 255, 255)
    draw.text((x - left, y - top), label.text, font=font, fill=colour, stroke_width=stroke, stroke_fill=(0, 0, 0))


def _build_sc(ctx: _Context) -> Dataset:
    film = ctx.film
    points = [p for limb in ctx.case.limbs.values() for p in limb.landmarks.values()]
    pixels = render_annotated(ctx.radiograph, ctx.overlay, ctx.window, points)
    spacing = film.get("PixelSpacing") or film.get("ImagerPixelSpacing")
    orientation = tuple(str(v) for v in (film.get("PatientOrientation") or ())) or tuple(ctx.case.patient_orientation)
    if len(orientation) != 2:
        orientation = tuple(ctx.case.patient_orientation)
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=film,
        pixel_array=pixels,
        photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
        bits_allocated=8,
        coordinate_system=hd.CoordinateSystemNames.PATIENT,
        **ctx.common("sc"),
        pixel_spacing=tuple(float(v) for v in spacing) if spacing else None,
        patient_orientation=orientation,
        transfer_syntax_uid=RLELossless,
        series_description=SERIES_DESCRIPTIONS["sc"],
        specific_character_set=CHARSET,
    )
    sc.copy_patient_and_study_information(film)  # from_ref_dataset copies only part of the modules
    sc.BurnedInAnnotation = "YES"  # the analysis is burned in (no patient data is)
    sc.ImageType = ["DERIVED", "SECONDARY"]
    sc.DerivationDescription = "Film windowed to 8 bits with the long-leg alignment analysis drawn over it"
    sc.LossyImageCompression = "00"
    sc.SourceImageSequence = [_reference(film)]
    sc.ImageComments = "Annotated copy of the film for viewers without presentation states; measure on the original."
    _laterality(sc, film)
    _equipment(sc)
    return sc


# --- Encapsulated PDF -------------------------------------------------------------------------------------


def _build_pdf(ctx: _Context) -> Dataset:
    from .report import ReportError, ReportOptions, build_report

    options = ctx.options.report or ReportOptions()
    if ctx.options.window is not None and getattr(options, "window", None) is None:
        options = dataclasses.replace(options, window=ctx.options.window)
    with tempfile.TemporaryDirectory(prefix="deformity-export-") as tmp:
        pdf_path = Path(tmp) / "report.pdf"
        try:
            info = build_report(ctx.case, ctx.case_path, ctx.radiograph, pdf_path, options, film_path=ctx.film_path,
                                result=ctx.result)
        except ReportError as exc:
            raise ExportError(f"The report could not be made: {exc}") from None
        document = pdf_path.read_bytes()
    ctx.warnings.extend(info.warnings)
    film = ctx.film
    common = ctx.common("pdf")
    pdf = hd.base.SOPClass(
        study_instance_uid=film.StudyInstanceUID,
        series_instance_uid=common["series_instance_uid"],
        series_number=common["series_number"],
        sop_instance_uid=common["sop_instance_uid"],
        sop_class_uid=EncapsulatedPDFStorage,
        instance_number=1,
        modality="DOC",
        manufacturer=MANUFACTURER,
        transfer_syntax_uid=ExplicitVRLittleEndian,
        patient_id=film.PatientID,
        patient_name=film.PatientName,
        patient_birth_date=film.PatientBirthDate,
        patient_sex=film.PatientSex,
        accession_number=film.AccessionNumber,
        study_id=film.StudyID,
        study_date=film.StudyDate,
        study_time=film.StudyTime,
        referring_physician_name=film.ReferringPhysicianName,
        series_description=SERIES_DESCRIPTIONS["pdf"],
        manufacturer_model_name=MODEL,
        software_versions=__version__,
        specific_character_set=CHARSET,
    )
    pdf.copy_patient_and_study_information(film)
    stamp = ctx.now
    pdf.ConversionType = "WSD"  # SC Equipment module: created on a workstation
    pdf.ContentDate = stamp.strftime("%Y%m%d")
    pdf.ContentTime = stamp.strftime("%H%M%S")
    pdf.AcquisitionDateTime = stamp.strftime("%Y%m%d%H%M%S")
    pdf.BurnedInAnnotation = "YES"  # the PDF names the patient
    pdf.DocumentTitle = "Long-leg alignment analysis"
    pdf.ConceptNameCodeSequence = []
    pdf.SourceInstanceSequence = [_reference(film)]
    pdf.MIMETypeOfEncapsulatedDocument = "application/pdf"
    pdf.EncapsulatedDocumentLength = len(document)
    pdf.EncapsulatedDocument = document + (b"\x00" if len(document) % 2 else b"")
    _equipment(pdf)
    return pdf


# --- shared -------------------------------------------------------------------------------------------------


def _reference(film: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = film.SOPClassUID
    item.ReferencedSOPInstanceUID = film.SOPInstanceUID
    return item


def _laterality(ds: Dataset, film: Dataset) -> None:
    """General Series Laterality (type 2C for a paired body part such as LEG): R or L when the film
    is of one side, else empty (a long-leg film shows both limbs; "B" is not allowed here)."""
    side = str(film.get("ImageLaterality", "") or film.get("Laterality", "") or "").strip().upper()
    ds.Laterality = side if side in ("R", "L") else ""


def _equipment(ds: Dataset) -> None:
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = MODEL
    ds.SoftwareVersions = __version__


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()
_BUILDERS = {"sr": _build_sr, "gsps": _build_gsps, "sc": _build_sc, "pdf": _build_pdf}


def build_objects(case: Case, film_path: str | os.PathLike[str], *, case_path: str | os.PathLike[str] | None = None,
                  radiograph: Any = None, result: CaseResult | None = None,
                  options: ExportOptions | None = None) -> tuple[list[ExportedObject], list[str]]:
    """Build the chosen objects in memory; returns them and warnings (sentences).

    `radiograph` is the decoded film when the caller has it (the GUI does), else it is opened
    here. Raises ExportError (a sentence) for a film that is not DICOM, is not the case's image,
    or cannot be read, and for a case without landmarks.
    """
    from dicom_io.errors import FilmError
    from dicom_io.film import open_film

    options = options or ExportOptions()
    unknown = [k for k in options.kinds if k not in _BUILDERS]
    if unknown:
        raise ExportError(f"Unknown kind of result {unknown[0]!r} (expected sr, gsps, sc or pdf).")
    film_path = Path(film_path)
    header = _film_header(film_path)
    if radiograph is None:
        try:
            radiograph = open_film(film_path)
        except FilmError as exc:
            raise ExportError(f"The film {film_path} cannot be used: {exc}") from None
    _check_case_matches(case, header, radiograph, film_path)
    if not any(limb.landmarks for limb in case.limbs.values()):
        raise ExportError("The case has no landmarks on either limb: there is nothing to export.")
    result = result or measure_case(case)
    overlay = build_overlay(case, result).in_layers(set(options.layers))
    ctx = _Context(case, result, overlay, header, radiograph, _window(radiograph, options.window), options,
                   _dt.datetime.now(), Path(case_path) if case_path is not None else None, film_path)
    objects = []
    for kind in KINDS:
        if kind in options.kinds:
            dataset = _BUILDERS[kind](ctx)
            objects.append(ExportedObject(kind, dataset, SERIES_DESCRIPTIONS[kind]))
    return objects, ctx.warnings


def write_objects(objects: Sequence[ExportedObject], out_dir: str | os.PathLike[str], stem: str) -> list[Path]:
    """Write each object as ``<stem>.<kind>.dcm`` in `out_dir`, all or nothing as far as a file
    system allows: every object is written to a hidden temporary file first, and only when all
    are complete are they renamed to their names (a failure removes the temporary files)."""
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"The folder {folder} cannot be created ({exc.strerror or exc}).") from None
    pending: list[tuple[str, Path]] = []
    try:
        for obj in objects:
            fd, tmp = tempfile.mkstemp(prefix=f".{obj.file_name(stem)}.", suffix=".part", dir=folder)
            pending.append((tmp, folder / obj.file_name(stem)))
            with os.fdopen(fd, "wb") as handle:
                obj.dataset.save_as(handle, enforce_file_format=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600
        for tmp, final in pending:
            os.replace(tmp, final)
    except OSError as exc:
        for tmp, _final in pending:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        raise ExportError(f"The results could not be written to {folder} ({exc.strerror or exc}).") from None
    except BaseException:
        for tmp, _final in pending:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        raise
    return [final for _tmp, final in pending]


def export_case(case: Case, case_path: str | os.PathLike[str] | None, out_dir: str | os.PathLike[str],
                options: ExportOptions | None = None, *, film_path: str | os.PathLike[str] | None = None,
                radiograph: Any = None) -> tuple[list[tuple[ExportedObject, Path]], list[str]]:
    """Build and write the objects of a case; the film is the case's ``image.path`` unless given.

    Returns [(object, path)] and warnings. Raises ExportError.
    """
    from .report import film_path_of

    case_path = Path(case_path) if case_path is not None else None
    if film_path is None:
        film_path = film_path_of(case, case_path)
        if film_path is None:
            raise ExportError("The case names no film (image.path): the results need the film's study.")
    objects, warnings = build_objects(case, film_path, case_path=case_path, radiograph=radiograph, options=options)
    stem = _stem_of(case_path) if case_path is not None else "analysis"
    paths = write_objects(objects, out_dir, stem)
    return list(zip(objects, paths)), warnings


def _stem_of(case_path: Path) -> str:
    name = case_path.name
    return name[: -len(".case.json")] if name.endswith(".case.json") else case_path.stem


# --- reading back ----------------------------------------------------------------------------------------


def landmarks_from_sr(dataset: Dataset) -> dict[str, dict[str, tuple[float, float]]]:
    """The landmarks an SR of ours holds: {"right": {name: (x, y)}, ...} in case pixel coordinates."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for group in _content_items(dataset):
        if group.get("ValueType") != "CONTAINER":
            continue
        finding, side, point = None, None, None
        for item in group.get("ContentSequence", []):
            name = item.ConceptNameCodeSequence[0] if "ConceptNameCodeSequence" in item else None
            if item.ValueType == "CODE" and name is not None and name.CodeValue == "121071":  # Finding
                code = item.ConceptCodeSequence[0]
                if code.CodingSchemeDesignator == CODING_SCHEME:
                    finding = _LANDMARK_BY_VALUE.get(code.CodeValue)
            elif item.ValueType == "CODE" and name is not None and name.CodeValue == "363698007":  # Finding site
                for mod in item.get("ContentSequence", []):
                    if mod.ValueType == "CODE":
                        value = mod.ConceptCodeSequence[0].CodeValue
                        side = "right" if value == "24028007" else "left" if value == "7771000" else side
            elif item.ValueType == "SCOORD" and item.GraphicType == "POINT":
                x, y = item.GraphicData[:2]
                point = (float(x) - 0.5, float(y) - 0.5)
        if finding and side and point:
            out.setdefault(side, {})[finding] = point
    return out


def _content_items(dataset: Dataset) -> list[Dataset]:
    found: list[Dataset] = []

    def walk(items: Sequence[Dataset]) -> None:
        for item in items:
            found.append(item)
            walk(item.get("ContentSequence", []))

    walk(dataset.get("ContentSequence", []))
    return found
