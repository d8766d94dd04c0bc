"""Synthetic standing long-leg films with a chosen deformity, and their ground-truth case files.

The demo the application opens, the teaching bank's films and test fixtures all come from here. A
film is drawn from a `FilmSpec` (two `LimbSpec`s: joint orientation angles, bone lengths, optional
levels of a bend inside a bone) and written as a DX DICOM file; its case file holds the 16
landmarks of each limb exactly where they were drawn, so that `measure` gives the requested mLPFA,
mLDFA, MPTA, LDTA and JLCA.

Everything is deterministic: the same spec and seed give the same pixels, UIDs and bytes.

    >>> from dicom_io.demo import FilmSpec, bent_tibia, generate_film
    >>> pixels, case = generate_film(FilmSpec(right=bent_tibia(8, 60), pixel_spacing_mm=0.6))
    >>> pixels.shape, case["limbs"]["right"]["landmarks"]["knee_center"]  # doctest: +SKIP
    ((1750, 625), [...])

Command line: ``python -m dicom_io.demo OUT_FOLDER [--preset NAME] [--all] [--seed N] [--spacing MM]``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    PYDICOM_IMPLEMENTATION_UID,
    generate_uid,
)

from measurements.case import atomic_write

from ._phantom import (
    BALL_DIAMETER_MM,
    BITS_STORED,
    LANDMARK_NAMES,
    LEFT,
    RIGHT,
    FilmLayout,
    FilmSpec,
    LimbSpec,
    bent_femur,
    bent_tibia,
    layout_film,
    render_film,
)

__all__ = [
    "GENERATOR_VERSION",
    "LANDMARK_NAMES",
    "BALL_DIAMETER_MM",
    "LimbSpec",
    "FilmSpec",
    "NORMAL_LIMB",
    "bent_femur",
    "bent_tibia",
    "bank_specs",
    "bank_film_dataset",
    "write_bank_film",
    "DEFAULT_DEMO",
    "WINDOW_PRESETS",
    "generate_case",
    "generate_film",
    "film_dataset",
    "write_demo",
    "demo_cache_dir",
    "ensure_demo",
    "predrawn_demo_dir",
    "main",
]

log = logging.getLogger(__name__)

# Bump when the pixels or the case of a given spec and seed change: it names the cache folder.
GENERATOR_VERSION = "1"

# (explanation, centre, width) in stored values; bone is bright (MONOCHROME2).
WINDOW_PRESETS: tuple[tuple[str, float, float], ...] = (("BONE", 2450.0, 2500.0), ("SOFT", 1700.0, 2400.0))

PATIENT_NAME = "DEMO^SYNTHETIC"
PATIENT_ID = "DEMO-0001"
PATIENT_SEX = "M"
PATIENT_BIRTH_DATE = "19800101"
STUDY_DATE = "20250101"
STUDY_TIME = "090000"
STUDY_DESCRIPTION = "Standing long-leg AP (synthetic)"
# ImagerPixelSpacing larger than PixelSpacing, with a GEOMETRY calibration type: the calibration
# chain of measurements.md takes PixelSpacing as calibrated (priority 2).
IMAGER_MAGNIFICATION = 1.1
_UID_PREFIX = "1.2.826.0.1.3680043.8.498."  # pydicom's root, for UIDs it generates


# A normal limb as films show it: slight mechanical varus (mFTA 2, MAD about 7 mm medial), every
# angle inside its normal range. The means themselves (87/87, JLCA 0) put MAD at 0 mm, which the
# malalignment test of measurements.md reads as valgus (less than 1 mm medial).
NORMAL_LIMB = LimbSpec(mlpfa_deg=90.0, mldfa_deg=87.5, mpta_deg=86.0, ldta_deg=89.0, jlca_deg=0.5)


def bank_specs(pixel_spacing_mm: float = 0.15) -> dict[str, FilmSpec]:
    """The teaching bank's deformities (practice.md), by name; right limb affected unless named.

    Every limb starts from `NORMAL_LIMB`; bent bones use `bent_femur` / `bent_tibia` on it, so that
    planning's CORA method with contralateral references (the other limb is normal) finds the
    drawn bend at the drawn level.
    """
    normal = NORMAL_LIMB

    def film(name: str, title: str, diagnosis: str, right: LimbSpec = normal, left: LimbSpec = normal) -> FilmSpec:
        return FilmSpec(right=right, left=left, pixel_spacing_mm=pixel_spacing_mm, name=name, title=title,
                        diagnosis=diagnosis)

    specs = [
        film("normal", "Normal alignment", "Normal alignment of both lower limbs."),
        film("femoral_varus", "Distal femoral varus",
             "Varus malalignment of femoral origin (mLDFA about 92.7); CORA 110 mm above the knee joint line.",
             right=bent_femur(7.0, 110.0, normal)),
        film("femoral_valgus", "Distal femoral valgus",
             "Valgus malalignment of femoral origin (mLDFA about 80.8); CORA 70 mm above the knee joint line.",
             right=bent_femur(-8.0, 70.0, normal)),
        film("proximal_tibial_varus", "Proximal tibial varus",
             "Varus malalignment of tibial origin (MPTA about 79.3); CORA 60 mm below the knee joint line.",
             right=bent_tibia(8.0, 60.0, normal)),
        film("tibial_valgus", "Proximal tibial valgus",
             "Valgus malalignment of tibial origin (MPTA about 91.5); CORA 80 mm below the knee joint line.",
             right=bent_tibia(-7.0, 80.0, normal)),
        film("joint_line_convergence", "Joint-line convergence",
             "Varus malalignment from the joint: JLCA 5 (medial convergence); femur and tibia normal.",
             right=dataclasses.replace(normal, jlca_deg=5.0)),
        film("ankle_malorientation", "Ankle malorientation",
             "Distal tibial malorientation (LDTA 80, valgus) without malalignment: MAD normal.",
             right=dataclasses.replace(normal, ldta_deg=80.0)),
        film("two_level", "Two-level varus (femur and tibia)",
             "Varus malalignment of femoral and tibial origin: distal femoral CORA 100 mm above and "
             "proximal tibial CORA 70 mm below the knee joint line.",
             right=bent_tibia(6.0, 70.0, bent_femur(6.0, 100.0, normal))),
        film("limb_length_discrepancy", "Limb-length discrepancy",
             "Left tibia 20 mm shorter: limb-length discrepancy of 20 mm, alignment normal.",
             left=dataclasses.replace(normal, tibia_length_mm=normal.tibia_length_mm - 20.0)),
    ]
    return {s.name: s for s in specs}


# The bundled demo: right limb with an 8 degree proximal tibial varus (CORA 60 mm below the knee),
# left limb normal.
DEFAULT_DEMO: FilmSpec = bank_specs()["proximal_tibial_varus"]


def _spec_key(spec: FilmSpec, seed: int) -> str:
    """A canonical text of everything that determines the film, for deterministic UIDs."""
    return json.dumps({"spec": dataclasses.asdict(spec), "seed": seed, "version": GENERATOR_VERSION}, sort_keys=True)


def _uids(spec: FilmSpec, seed: int) -> dict[str, str]:
    key = _spec_key(spec, seed)
    # The study depends on the patient only, so that every preset film joins one demo study.
    return {
        "study": str(generate_uid(_UID_PREFIX, [PATIENT_ID, "study", GENERATOR_VERSION])),
        "series": str(generate_uid(_UID_PREFIX, [key, "series"])),
        "sop": str(generate_uid(_UID_PREFIX, [key, "sop"])),
    }


def _round(p: Sequence[float], nd: int = 3) -> list[float]:
    return [round(float(v), nd) for v in p]


def _ground_truth(lay: FilmLayout, seed: int) -> dict[str, Any]:
    spec = lay.spec
    sp = lay.spacing
    limbs: dict[str, Any] = {}
    for side, pl in lay.limbs.items():
        s = pl.geometry.spec
        coras: dict[str, Any] = {}
        for bone, cora in (("femur", pl.geometry.femoral_cora), ("tibia", pl.geometry.tibial_cora)):
            coras[bone] = None if cora is None else {
                "angle_deg": round(cora.angle_deg, 4),
                "from_knee_mm": cora.from_knee_mm,
                "cora_px": _round(pl.px(cora.point)),
            }
        limbs[side] = {
            "mlpfa_deg": s.mlpfa_deg, "mldfa_deg": s.mldfa_deg, "mpta_deg": s.mpta_deg, "ldta_deg": s.ldta_deg,
            "jlca_deg": s.jlca_deg, "femur_length_mm": s.femur_length_mm, "tibia_length_mm": s.tibia_length_mm,
            "nsa_deg": s.neck_shaft_deg,
            "reference_deg": {"mlpfa_deg": s.reference_mlpfa_deg, "mldfa_deg": s.reference_mldfa_deg,
                              "mpta_deg": s.reference_mpta_deg, "ldta_deg": s.reference_ldta_deg},
            "cora": coras,
        }
    return {
        "generator": "dicom_io.demo",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "preset": spec.name,
        "title": spec.title,
        "diagnosis": spec.diagnosis,
        "synthetic": True,
        "calibration_ball_px": {
            "center": _round(lay.ball_center_px),
            "diameter_mm": BALL_DIAMETER_MM,
            "diameter_px": BALL_DIAMETER_MM / sp,
        },
        "limbs": limbs,
    }


def _case_dict(lay: FilmLayout, seed: int, sop_uid: str) -> dict[str, Any]:
    sp = lay.spacing
    return {
        "format": "deformity-case/1",
        "image": {"sop_instance_uid": sop_uid, "rows": lay.rows, "columns": lay.cols},
        "pixel_spacing_mm": [sp, sp],
        "calibration": {"source": "PixelSpacing"},
        "patient_orientation": ["L", "F"],
        "patient": {"sex": "male", "age_years": 45.0},
        "limbs": {
            side: {"landmarks": {n: _round(p) for n, p in lay.limbs[side].landmarks_px().items()}}
            for side in (RIGHT, LEFT)
        },
        "ground_truth": _ground_truth(lay, seed),
    }


def generate_case(spec: FilmSpec = DEFAULT_DEMO, seed: int = 0) -> dict[str, Any]:
    """The case `generate_film` returns for this spec and seed, without drawing the film (fast)."""
    return _case_dict(layout_film(spec), seed, _uids(spec, seed)["sop"])


def generate_film(spec: FilmSpec = DEFAULT_DEMO, seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Draw a film and its ground-truth case.

    Returns the pixels (uint16, rows x columns, 12 bits stored, bone bright) and the case-file dict
    of case-format.md: every landmark of both limbs in image pixels, `pixel_spacing_mm`
    `[s, s]`, calibration `PixelSpacing`, orientation `["L", "F"]`, the image's rows, columns and
    SOP Instance UID (no `image.path`: `write_demo` adds it), and `ground_truth` (requested angles,
    drawn CORAs, the calibration ball's centre in pixels and its 25 mm diameter).
    Raises ValueError for a spec that cannot be drawn.
    """
    lay = layout_film(spec)
    pixels = render_film(lay, seed)
    case = _case_dict(lay, seed, _uids(spec, seed)["sop"])
    return pixels, case


def film_dataset(pixels: np.ndarray, spec: FilmSpec, seed: int = 0) -> Dataset:
    """The DX (for presentation) DICOM dataset of a generated film, explicit VR little endian."""
    if pixels.dtype != np.uint16 or pixels.ndim != 2:
        raise ValueError("expected a 2-D uint16 film")
    uids = _uids(spec, seed)
    sp = spec.pixel_spacing_mm

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = uids["sop"]
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"DEFORMITY_DEMO_{GENERATOR_VERSION}"[:16]

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = uids["sop"]
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = STUDY_DATE
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = STUDY_TIME
    ds.AccessionNumber = ""
    ds.Modality = "DX"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Manufacturer = "deformity-app"
    ds.ManufacturerModelName = "dicom_io.demo synthetic film generator"
    ds.SoftwareVersions = GENERATOR_VERSION
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = STUDY_DESCRIPTION
    ds.SeriesDescription = (spec.title or spec.name)[:64]
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = PATIENT_BIRTH_DATE
    ds.PatientSex = PATIENT_SEX
    ds.PatientAge = "045Y"
    ds.BodyPartExamined = "LEG"
    ds.ViewPosition = "AP"
    ds.ImageLaterality = "B"
    ds.PatientOrientation = ["L", "F"]
    ds.StudyInstanceUID = uids["study"]
    ds.SeriesInstanceUID = uids["series"]
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.ImageComments = f"Synthetic film, not a patient: {spec.diagnosis or spec.name}"[:10240]
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"

    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = BITS_STORED
    ds.HighBit = BITS_STORED - 1
    ds.PixelRepresentation = 0
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = 1
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    ds.WindowCenter = [c for _, c, _ in WINDOW_PRESETS]
    ds.WindowWidth = [w for _, _, w in WINDOW_PRESETS]
    ds.WindowCenterWidthExplanation = [e for e, _, _ in WINDOW_PRESETS]
    ds.PixelSpacing = [sp, sp]
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.PixelSpacingCalibrationDescription = "Synthetic film: exact at the plane of the bones"
    imager = round(sp * IMAGER_MAGNIFICATION, 6)
    ds.ImagerPixelSpacing = [imager, imager]
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    return ds


def write_demo(
    folder: str | os.PathLike[str], spec: FilmSpec = DEFAULT_DEMO, name: str = "demo", seed: int = 0
) -> tuple[Path, Path]:
    """Generate a film and write `<name>.dcm` and `<name>.case.json` into `folder` (created if needed).

    Both are written atomically, the film first; the case's `image.path` is the film's file name
    (relative to the case file's folder). Returns (film path, case path).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pixels, case = generate_film(spec, seed)
    film_path = folder / f"{name}.dcm"
    case_path = folder / f"{name}.case.json"
    case["image"] = {"path": film_path.name, **case["image"]}
    ds = film_dataset(pixels, spec, seed)
    atomic_write(film_path, lambda f: ds.save_as(f, enforce_file_format=True))
    text = json.dumps(case, indent=2) + "\n"
    atomic_write(case_path, lambda f: f.write(text.encode("utf-8")))
    log.info("wrote synthetic film %s (%s) and its case", film_path, spec.name)
    return film_path, case_path


# --- the teaching bank's films ----------------------------------------------------------------------
#
# A teaching film must not say its diagnosis: a fellow measures it blind. The bank's films carry the
# same pixels as `film_dataset` draws, but neutral descriptions, no comment naming the deformity and
# their own UIDs (the demo film keeps its own; a film of the bank is another object).
BANK_STUDY_DESCRIPTION = "Standing long-leg AP (synthetic teaching film)"
BANK_SERIES_DESCRIPTION = "Long-leg AP"
BANK_IMAGE_COMMENTS = "Synthetic film, not a patient."


def _bank_uids(spec: FilmSpec, seed: int) -> dict[str, str]:
    key = _spec_key(spec, seed)
    return {
        "study": str(generate_uid(_UID_PREFIX, [PATIENT_ID, "teaching bank study", GENERATOR_VERSION])),
        "series": str(generate_uid(_UID_PREFIX, [key, "teaching bank series"])),
        "sop": str(generate_uid(_UID_PREFIX, [key, "teaching bank sop"])),
    }


def bank_film_dataset(pixels: np.ndarray, spec: FilmSpec, seed: int = 0) -> Dataset:
    """The DICOM dataset of a teaching-bank film: `film_dataset`'s, blind.

    Nothing in it names the deformity (StudyDescription, SeriesDescription and ImageComments are
    neutral), and its Study, Series and SOP Instance UIDs are the bank's, not the demo film's.
    """
    ds = film_dataset(pixels, spec, seed)
    uids = _bank_uids(spec, seed)
    ds.StudyDescription = BANK_STUDY_DESCRIPTION
    ds.SeriesDescription = BANK_SERIES_DESCRIPTION
    ds.ImageComments = BANK_IMAGE_COMMENTS
    ds.StudyInstanceUID = uids["study"]
    ds.SeriesInstanceUID = uids["series"]
    ds.SOPInstanceUID = uids["sop"]
    ds.file_meta.MediaStorageSOPInstanceUID = uids["sop"]
    return ds


def write_bank_film(folder: str | os.PathLike[str], spec: FilmSpec, name: str, seed: int = 0) -> tuple[Path, Path]:
    """Write a teaching-bank film `<name>.dcm` (`bank_film_dataset`) and its ground-truth case
    `<name>.case.json` into `folder`; the case names the film by file name and by its bank UID.

    Give `name` a neutral stem ("key-03"): the file names are shown when a film is opened.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pixels, case = generate_film(spec, seed)
    film_path = folder / f"{name}.dcm"
    case_path = folder / f"{name}.case.json"
    ds = bank_film_dataset(pixels, spec, seed)
    case["image"] = {"path": film_path.name, **case["image"], "sop_instance_uid": str(ds.SOPInstanceUID)}
    atomic_write(film_path, lambda f: ds.save_as(f, enforce_file_format=True))
    text = json.dumps(case, indent=2) + "\n"
    atomic_write(case_path, lambda f: f.write(text.encode("utf-8")))
    log.info("wrote teaching-bank film %s and its case", film_path)
    return film_path, case_path


def demo_cache_dir() -> Path:
    """Where `ensure_demo` keeps the default demo: `$DEFORMITY_APP_HOME/demo-<version>` when that
    variable is set, else the platform's user cache folder for deformity-app."""
    home = os.environ.get("DEFORMITY_APP_HOME")
    if home:
        base = Path(home)
    else:
        from platformdirs import user_cache_dir

        base = Path(user_cache_dir("deformity-app"))
    return base / f"demo-{GENERATOR_VERSION}"


def predrawn_demo_dir() -> Path:
    """Where a build may ship the default demo already drawn (`resources/demo/demo-<version>`: the
    clinic build draws it while building, so a user's first start does not wait ~2 s for it)."""
    from resources import resource_path

    return resource_path("demo", f"demo-{GENERATOR_VERSION}")


def ensure_demo(folder: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """The default demo's (film, case) paths, generating them only when either file is missing.

    `folder` defaults to the demo drawn by this version's build when there is one
    (`predrawn_demo_dir()`), else `demo_cache_dir()`. The first generation takes a few seconds;
    later calls are a file-existence check.
    """
    if folder is None:
        shipped = predrawn_demo_dir()
        if (shipped / "demo.dcm").is_file() and (shipped / "demo.case.json").is_file():
            return shipped / "demo.dcm", shipped / "demo.case.json"
    folder = Path(folder) if folder is not None else demo_cache_dir()
    film, case = folder / "demo.dcm", folder / "demo.case.json"
    if film.is_file() and case.is_file():
        return film, case
    return write_demo(folder, DEFAULT_DEMO, "demo")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m dicom_io.demo OUT_FOLDER [--preset NAME | --all] [--seed N] [--spacing MM]`."""
    presets = bank_specs()
    parser = argparse.ArgumentParser(
        prog="python -m dicom_io.demo",
        description="Write a synthetic standing long-leg film (DICOM) and its ground-truth case file.",
    )
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--preset", default=DEFAULT_DEMO.name, choices=sorted(presets),
                        help=f"deformity (default {DEFAULT_DEMO.name})")
    parser.add_argument("--all", action="store_true", help="write every preset, each under its own name")
    parser.add_argument("--name", help="file name stem (default: 'demo', or the preset name with --all)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--spacing", type=float, default=0.15, help="pixel spacing in mm (default 0.15)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        chosen = bank_specs(args.spacing)
        names = sorted(chosen) if args.all else [args.preset]
        for n in names:
            stem = n if args.all else (args.name or "demo")
            film, case = write_demo(args.out, chosen[n], stem, args.seed)
            print(f"{film}\n{case}")
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
