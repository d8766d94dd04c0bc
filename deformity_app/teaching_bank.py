"""Teaching keys and banks (shared/spec/practice.md, "Teaching keys"): build, list, save (no Qt).

A key is a case file with the expert's landmarks and a ``key`` object (title, level, diagnosis,
teaching points, author, source); a bank is a folder of keys with their films. The application's
own bank is drawn by the demo generator on first use into the user's cache folder (the films are
never shipped); its metadata, the teaching points, live in ``resources/teaching/bank.json``. A
clinic's folder is read the same way, and any case can be saved as an anonymised key.

    >>> folder = ensure_bank()                     # doctest: +SKIP  (about 30 s the first time)
    >>> [k.title for k in list_keys(folder)][:2]   # doctest: +SKIP
    ['Normal alignment', 'Distal femoral varus']
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from measurements.case import (Case, CaseError, atomic_write, atomic_write_text, case_from_mapping, dumps_case,
                               load_case, save_case)
from measurements.landmarks import Side

log = logging.getLogger(__name__)

BANK_METADATA_FORMAT = "deformity-teaching-bank/1"
MANIFEST_NAME = "bank-manifest.json"
LEVELS: tuple[str, ...] = ("basic", "intermediate", "advanced")
DEFAULT_SPACING_MM = 0.15


class TeachingBankError(Exception):
    """A bank or key that cannot be built or saved; `str()` is a sentence for the user."""


# --- key metadata --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """The ``key`` object of a case file (practice.md)."""

    title: str
    level: str = "basic"
    diagnosis: str = ""
    teaching_points: tuple[str, ...] = ()
    author: str = ""
    source: str = ""
    id: str = ""  # a stable name within a bank (the shipped bank uses the generator's preset names)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"title": self.title, "level": self.level, "diagnosis": self.diagnosis,
                               "teaching_points": list(self.teaching_points), "author": self.author,
                               "source": self.source}
        if self.id:
            out["id"] = self.id
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], fallback_title: str = "") -> "KeyInfo":
        points = data.get("teaching_points") or ()
        if isinstance(points, str):
            points = (points,)
        return cls(
            title=str(data.get("title") or fallback_title).strip(),
            level=str(data.get("level") or "basic").strip(),
            diagnosis=str(data.get("diagnosis") or "").strip(),
            teaching_points=tuple(str(p).strip() for p in points if str(p).strip()),
            author=str(data.get("author") or "").strip(),
            source=str(data.get("source") or "").strip(),
            id=str(data.get("id") or "").strip(),
        )


@dataclass(frozen=True, slots=True)
class KeySummary:
    """What a key list shows: the key's metadata, its files and what the film holds."""

    path: Path  # the key's case file
    film_path: Path | None  # the film its `image.path` names (None when the case names none)
    info: KeyInfo
    sop_instance_uid: str
    calibrated: bool
    limbs: tuple[Side, ...]  # limbs with landmarks

    @property
    def title(self) -> str:
        return self.info.title

    @property
    def level(self) -> str:
        return self.info.level

    @property
    def diagnosis(self) -> str:
        return self.info.diagnosis

    @property
    def teaching_points(self) -> tuple[str, ...]:
        return self.info.teaching_points

    @property
    def id(self) -> str:
        """The key's `id`, else its file name without `.case.json`."""
        return self.info.id or _stem(self.path)

    @property
    def film_exists(self) -> bool:
        return self.film_path is not None and self.film_path.is_file()


def _stem(path: Path) -> str:
    name = path.name
    return name[: -len(".case.json")] if name.endswith(".case.json") else path.stem


def film_path_of(case: Case, case_path: Path) -> Path | None:
    """The film a case names, relative paths taken from the case file's folder."""
    raw = case.image.get("path")
    if not isinstance(raw, str) or not raw.strip():
        return None
    path = Path(raw)
    return path if path.is_absolute() else case_path.parent / path


def summary_of(case: Case, path: Path) -> KeySummary:
    """The summary of a key case (raises TeachingBankError when the case has no `key` object)."""
    data = case.extra.get("key")
    if not isinstance(data, Mapping):
        raise TeachingBankError("the case is not a teaching key (it has no 'key' object)")
    return KeySummary(
        path=path,
        film_path=film_path_of(case, path),
        info=KeyInfo.from_mapping(data, fallback_title=_stem(path).replace("_", " ")),
        sop_instance_uid=str(case.image.get("sop_instance_uid") or ""),
        calibrated=case.calibrated,
        limbs=tuple(s for s in (Side.RIGHT, Side.LEFT) if s in case.limbs and case.limbs[s].landmarks),
    )


def read_key(path: str | os.PathLike[str]) -> tuple[Case, KeySummary]:
    """Load a key case file and its summary; raises CaseError or TeachingBankError."""
    path = Path(path)
    case = load_case(path)
    return case, summary_of(case, path)


def list_keys(folder: str | os.PathLike[str]) -> list[KeySummary]:
    """Every key under `folder` (searched recursively): case files with a `key` object, in file-name order.

    Files that are not case files, and cases without a `key` object, are passed over (a clinic's
    folder may hold other work); unreadable ones are logged without their names.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    keys: list[KeySummary] = []
    for path in sorted(folder.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(folder).parts) or path.name == MANIFEST_NAME:
            continue
        try:
            case = load_case(path)
        except CaseError as exc:
            log.debug("a file in the key folder is not a case file: %s", exc)
            continue
        if isinstance(case.extra.get("key"), Mapping):
            keys.append(summary_of(case, path))
    return keys


# --- the shipped bank --------------------------------------------------------------------------------


def bank_metadata_path() -> Path:
    from resources import resource_path

    return resource_path("teaching", "bank.json")


def bank_metadata() -> dict[str, Any]:
    """The parsed ``resources/teaching/bank.json`` (raises TeachingBankError when it is broken)."""
    path = bank_metadata_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TeachingBankError(f"the teaching bank's metadata cannot be read ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != BANK_METADATA_FORMAT or not isinstance(data.get("keys"), list):
        raise TeachingBankError("the teaching bank's metadata is not in the expected format")
    return data


def bank_entries() -> list[tuple[str, KeyInfo]]:
    """(preset name, key info) of each key of the shipped bank, in teaching order."""
    data = bank_metadata()
    author = str(data.get("author") or "")
    source = str(data.get("source") or "")
    entries = []
    for item in data["keys"]:
        info = KeyInfo.from_mapping({"author": author, "source": source, **item})
        entries.append((str(item.get("preset") or info.id), info))
    return entries


def default_bank_dir() -> Path:
    """``user_dir("cache") / "teaching-bank-<generator version>"``."""
    from dicom_io.demo import GENERATOR_VERSION

    from .paths import user_dir

    return user_dir("cache") / f"teaching-bank-{GENERATOR_VERSION}"


def _metadata_digest(entries: Sequence[tuple[str, KeyInfo]]) -> str:
    text = json.dumps([[p, i.to_json()] for p, i in entries], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _read_manifest(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# Bumped when the bank's files change for the same generator version (2: neutral file names and
# blind DICOM descriptions, so that nothing a fellow sees before submitting names the deformity).
BANK_LAYOUT = 2


def _file_stem(index: int) -> str:
    """A key's file name stem in the shipped bank: neutral ("key-03"), in teaching order."""
    return f"key-{index + 1:02d}"


def _remove_stale(folder: Path, old_stems: Any, stems: Sequence[str]) -> None:
    """Remove the files an earlier layout of the bank wrote (they would be listed twice, and their names
    said the diagnosis)."""
    if not isinstance(old_stems, list):
        return
    for stem in old_stems:
        if not isinstance(stem, str) or stem in stems or "/" in stem or "\\" in stem or stem.startswith("."):
            continue
        for suffix in (".dcm", ".case.json"):
            try:
                (folder / f"{stem}{suffix}").unlink(missing_ok=True)
            except OSError as exc:
                log.warning("a file of an earlier teaching bank cannot be removed: %s", exc.strerror or exc)


def ensure_bank(folder: str | os.PathLike[str] | None = None, pixel_spacing_mm: float = DEFAULT_SPACING_MM,
                progress: Callable[[int, int, str], None] | None = None) -> Path:
    """The shipped teaching bank's folder, drawing its films and writing its keys when needed.

    `folder` defaults to :func:`default_bank_dir`. The films (DICOM) come from the demo generator
    (deterministic: the same version and spacing give the same bytes) through
    :func:`dicom_io.demo.write_bank_film`, blind: the files are named ``key-01`` ... in teaching order
    and nothing in a film names its deformity. Each key case is the generator's ground-truth case
    plus the ``key`` object of ``resources/teaching/bank.json``. Nothing is redrawn when the folder
    already holds this version at this spacing; when only the metadata changed, only the key files
    are rewritten; files of an earlier layout are removed. `pixel_spacing_mm` 0.6 makes small films
    for tests. `progress(done, total, name)` is called before each film is drawn (with the neutral
    file stem, never the title) and at the end. About 3 s and 35 MB per film at 0.15 mm.
    """
    from dicom_io.demo import GENERATOR_VERSION, bank_specs, write_bank_film

    folder = Path(folder) if folder is not None else default_bank_dir()
    folder.mkdir(parents=True, exist_ok=True)
    entries = bank_entries()
    specs = bank_specs(pixel_spacing_mm)
    unknown = [p for p, _ in entries if p not in specs]
    if unknown:
        raise TeachingBankError(f"the bank metadata names presets the generator does not have: {', '.join(unknown)}")
    digest = _metadata_digest(entries)
    manifest = _read_manifest(folder)
    stems = [_file_stem(i) for i in range(len(entries))]
    same_films = (manifest.get("generator_version") == GENERATOR_VERSION
                  and manifest.get("layout") == BANK_LAYOUT
                  and manifest.get("pixel_spacing_mm") == pixel_spacing_mm
                  and manifest.get("files") == stems
                  and all((folder / f"{s}.dcm").is_file() and (folder / f"{s}.case.json").is_file() for s in stems))
    if same_films and manifest.get("metadata") == digest:
        return folder

    total = len(entries)
    if not same_films:
        _remove_stale(folder, manifest.get("files"), stems)
    for i, ((preset, info), stem) in enumerate(zip(entries, stems)):
        case_path = folder / f"{stem}.case.json"
        if same_films:
            data = json.loads(case_path.read_text(encoding="utf-8"))
        else:
            if progress is not None:
                progress(i, total, stem)
            _film, case_path = write_bank_film(folder, specs[preset], stem)
            data = json.loads(case_path.read_text(encoding="utf-8"))
        key = info.to_json()
        key["id"] = info.id or preset
        data["key"] = key
        atomic_write_text(case_path, dumps_case(case_from_mapping(data)))
    atomic_write_text(folder / MANIFEST_NAME, json.dumps({
        "generator_version": GENERATOR_VERSION, "layout": BANK_LAYOUT, "pixel_spacing_mm": pixel_spacing_mm,
        "metadata": digest, "files": stems}, indent=2) + "\n")
    if progress is not None:
        progress(total, total, "")
    log.info("teaching bank ready in %s (%d keys)", folder, total)
    return folder


# --- saving a case as a key -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SavedKey:
    case_path: Path
    film_path: Path
    warnings: tuple[str, ...] = ()


# Elements that name or locate a person, emptied (type 2) or removed in an anonymised key film, on
# top of the four the issue names (PatientName, PatientID, PatientBirthDate, AccessionNumber); and
# those that may say the diagnosis (descriptions, reasons for the study: removed by DICOM's basic
# confidentiality profile too), since a fellow measures the key's film blind.
_BLANK = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "ReferringPhysicianName", "StudyID")
_REMOVE = ("StudyDescription", "SeriesDescription", "AdmittingDiagnosesDescription",
           "AdmittingDiagnosesCodeSequence", "ReasonForStudy", "ReasonForTheRequestedProcedure",
           "RequestedProcedureDescription", "PerformedProcedureStepDescription",
           "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "PatientBirthName",
           "PatientMotherBirthName", "PatientAddress", "PatientTelephoneNumbers", "PatientBirthTime",
           "IssuerOfPatientID", "MilitaryRank", "MedicalRecordLocator", "PatientComments", "AdmissionID",
           "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "StationName",
           "OperatorsName", "PerformingPhysicianName", "PhysiciansOfRecord", "NameOfPhysiciansReadingStudy",
           "RequestingPhysician", "RequestAttributesSequence", "DeviceSerialNumber", "ImageComments",
           "StudyComments", "AdditionalPatientHistory")
_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")
DEIDENTIFICATION_METHOD = "deformity-app teaching key: identifiers removed, new UIDs"  # LO: 64 characters at most


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60].strip("-") or "key"


def _unique_stem(folder: Path, stem: str, film_suffix: str) -> str:
    candidate, n = stem, 1
    while (folder / f"{candidate}.case.json").exists() or (folder / f"{candidate}{film_suffix}").exists():
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def _new_uid(old: str) -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid(prefix=None, entropy_srcs=[old, "deformity-app teaching key"]))


def anonymise_dataset(ds: Any) -> tuple[str | None, list[str]]:
    """Blank the patient's identifiers in a pydicom dataset in place; returns (new SOP Instance UID, warnings)."""
    warnings: list[str] = []
    for name in _BLANK:
        if name in ds:
            setattr(ds, name, "")
    for name in _REMOVE:
        if name in ds:
            delattr(ds, name)
    ds.remove_private_tags()
    new_sop = None
    for name in _UIDS:
        if name in ds and str(getattr(ds, name)):
            new = _new_uid(str(getattr(ds, name)))
            setattr(ds, name, new)
            if name == "SOPInstanceUID":
                new_sop = new
    meta = getattr(ds, "file_meta", None)
    if meta is not None and new_sop and "MediaStorageSOPInstanceUID" in meta:
        meta.MediaStorageSOPInstanceUID = new_sop
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEIDENTIFICATION_METHOD
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        warnings.append("The film says it carries burned-in annotation: names or dates may be written on the "
                        "image itself. Check the picture before sharing the key.")
    return new_sop, warnings


def save_as_key(case: Case, film_path: str | os.PathLike[str], folder: str | os.PathLike[str],
                key_info: KeyInfo | Mapping[str, Any], anonymise: bool = True) -> SavedKey:
    """Save `case` and a copy of its film into `folder` as a teaching key.

    With `anonymise` (the default) the case keeps its landmarks, calibration, orientation, the
    limbs' own data (plans, reference angles) and the ``key`` object only: every other free key
    (``reader``, ``session``, ``patient``, ``measured_at``, ...) is dropped and the image is named by
    the copy's file name. A DICOM film is copied with the patient's name, ID, birth date, accession
    number and the other identifying elements blanked or removed, private elements removed and new
    UIDs; another image format is copied as it is (with a warning). Files are named after the
    key's title and never overwrite an existing file. Raises TeachingBankError.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    info = key_info if isinstance(key_info, KeyInfo) else KeyInfo.from_mapping(key_info)
    if not info.title:
        raise TeachingBankError("a key needs a title")
    if not any(limb.landmarks for limb in case.limbs.values()):
        raise TeachingBankError("the case has no landmarks: there is nothing to learn from")
    film_path = Path(film_path)
    if not film_path.is_file():
        raise TeachingBankError("the film of the case was not found")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TeachingBankError(f"the key folder cannot be created ({exc.strerror or exc})") from None

    warnings: list[str] = []
    dataset = None
    try:
        dataset = pydicom.dcmread(film_path)
    except (InvalidDicomError, OSError, ValueError, EOFError):
        dataset = None
    suffix = ".dcm" if dataset is not None else (film_path.suffix.lower() or ".img")
    stem = _unique_stem(folder, _slug(info.title), suffix)
    out_film = folder / f"{stem}{suffix}"
    out_case = folder / f"{stem}.case.json"

    key_case = case.copy()
    new_uid = None
    try:
        if dataset is not None and anonymise:
            new_uid, more = anonymise_dataset(dataset)
            warnings += more
            atomic_write(out_film, lambda f: dataset.save_as(f, enforce_file_format=False))
        else:
            if anonymise:
                warnings.append("The film is not a DICOM file and was copied as it is: check that the picture and "
                                "its file carry no patient data.")
            with film_path.open("rb") as src:
                atomic_write(out_film, lambda f: shutil.copyfileobj(src, f))
    except OSError as exc:
        raise TeachingBankError(f"the film cannot be written to the key folder ({exc.strerror or exc})") from None

    if anonymise:
        image = {"path": out_film.name}
        uid = new_uid or (None if dataset is not None else case.image.get("sop_instance_uid"))
        if uid:
            image["sop_instance_uid"] = str(uid)
        for dim in ("rows", "columns"):
            if dim in case.image:
                image[dim] = case.image[dim]
        key_case.image = image
        key_case.extra = {}
    else:
        key_case.image = {**copy.deepcopy(case.image), "path": out_film.name}
    key_case.extra["key"] = info.to_json()
    try:
        save_case(key_case, out_case)
    except OSError as exc:
        raise TeachingBankError(f"the key cannot be written ({exc.strerror or exc})") from None
    return SavedKey(out_case, out_film, tuple(warnings))


__all__ = [
    "DEFAULT_SPACING_MM",
    "KeyInfo",
    "KeySummary",
    "LEVELS",
    "SavedKey",
    "TeachingBankError",
    "anonymise_dataset",
    "bank_entries",
    "bank_metadata",
    "default_bank_dir",
    "ensure_bank",
    "film_path_of",
    "list_keys",
    "read_key",
    "save_as_key",
    "summary_of",
]
