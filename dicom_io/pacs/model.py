"""Value types of PACS exchange: queries, studies, series, progress and the results of transfers.

Plain data, shared by the DIMSE and the DICOMweb clients, so that the command line and the GUI's
PACS browser handle both the same way.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "StudyQuery",
    "Study",
    "Series",
    "Progress",
    "ProgressCallback",
    "CancelCheck",
    "RetrieveResult",
    "StoreOutcome",
    "StoreResult",
    "check_date_range",
    "check_uid",
]

_DATE_RANGE = re.compile(r"^(\d{8})?(-(\d{8})?)?$")
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def check_date_range(value: str) -> str:
    """``YYYYMMDD``, ``YYYYMMDD-YYYYMMDD`` (or an open range ``YYYYMMDD-`` / ``-YYYYMMDD``); raises ValueError."""
    value = value.strip()
    m = _DATE_RANGE.match(value)
    if not value or value == "-" or m is None:
        raise ValueError(f"the date {value!r} is not YYYYMMDD or YYYYMMDD-YYYYMMDD")
    return value


def check_uid(value: str, what: str = "UID") -> str:
    """A DICOM UID (digits and dots, at most 64 characters); raises ValueError naming `what`."""
    value = value.strip()
    if not value or len(value) > 64 or _UID.match(value) is None:
        raise ValueError(f"{value!r} is not a DICOM {what} (digits and dots, at most 64 characters)")
    return value


@dataclass(frozen=True, slots=True)
class StudyQuery:
    """A study-level search; empty fields match everything.

    `patient_name` may use DICOM wildcards (``*``, ``?``); `date` is ``YYYYMMDD`` or a range
    ``YYYYMMDD-YYYYMMDD``; `modalities` such as ``("CR", "DX")`` match a study holding any of them.
    """

    patient_name: str = ""
    patient_id: str = ""
    accession: str = ""
    date: str = ""
    modalities: tuple[str, ...] = ()
    study_uid: str = ""
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Study:
    """One study as the PACS describes it; None where the PACS did not say."""

    study_uid: str
    patient_name: str | None = None
    patient_id: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    study_date: str | None = None
    description: str | None = None
    accession: str | None = None
    modalities: tuple[str, ...] = ()
    series: int | None = None
    instances: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The object of `pacs find --json` (dicom-exchange.md)."""
        return {
            "study_uid": self.study_uid,
            "patient_name": self.patient_name,
            "patient_id": self.patient_id,
            "birth_date": self.birth_date,
            "sex": self.sex,
            "study_date": self.study_date,
            "description": self.description,
            "accession": self.accession,
            "modalities": list(self.modalities),
            "series": self.series,
            "instances": self.instances,
        }


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a study."""

    series_uid: str
    modality: str | None = None
    description: str | None = None
    number: int | None = None
    instances: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "series_uid": self.series_uid,
            "modality": self.modality,
            "description": self.description,
            "number": self.number,
            "instances": self.instances,
        }


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a retrieve or a store is: `done` of `total` instances (`total` None when unknown).

    `message` is a short phrase without patient data ("received 3 of 12 instances").
    """

    done: int
    total: int | None
    failed: int = 0
    message: str = ""

    @property
    def fraction(self) -> float | None:
        """0..1, or None when the total is unknown."""
        if not self.total:
            return None
        return min(1.0, (self.done + self.failed) / self.total)


#: Called with each step of a transfer, on the thread that started it.
ProgressCallback = Callable[[Progress], None]
#: Polled between instances; returning True stops the transfer (what arrived is kept).
CancelCheck = Callable[[], bool]


@dataclass(slots=True)
class RetrieveResult:
    """What a retrieve brought: the files written (atomically) and what did not arrive."""

    received: int = 0
    failed: int = 0
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # sentences, no patient data
    cancelled: bool = False
    method: str = ""  # "C-GET", "C-MOVE" or "WADO-RS"

    @property
    def complete(self) -> bool:
        return self.failed == 0 and not self.cancelled and not self.problems

    def to_json(self) -> dict[str, Any]:
        """The object of `pacs get --json`."""
        out: dict[str, Any] = {"received": self.received, "failed": self.failed,
                               "files": [str(p) for p in self.files]}
        if self.problems:
            out["problems"] = list(self.problems)
        if self.cancelled:
            out["cancelled"] = True
        return out


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What became of one object sent to the PACS.

    `status` is "stored", "warning" (stored, with the PACS's remark), "refused" or "failed"
    (never sent: unreadable, cancelled, or no usable presentation context).
    """

    sop_instance_uid: str
    status: str
    message: str = ""
    path: str | None = None
    transfer_syntax: str = ""
    converted: bool = False  # sent as explicit VR little endian because the node refused the original

    @property
    def ok(self) -> bool:
        return self.status in ("stored", "warning")

    def to_json(self) -> dict[str, Any]:
        return {"file": self.path, "sop_instance_uid": self.sop_instance_uid, "status": self.status,
                "message": self.message, "transfer_syntax": self.transfer_syntax, "converted": self.converted}


@dataclass(slots=True)
class StoreResult:
    outcomes: list[StoreOutcome] = field(default_factory=list)
    cancelled: bool = False

    @property
    def stored(self) -> int:
        return sum(1 for o in self.outcomes if o.ok)

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if not o.ok)

    def to_json(self) -> dict[str, Any]:
        """The object of `pacs store --json`: counts and the per-file status."""
        out: dict[str, Any] = {"stored": self.stored, "failed": self.failed,
                               "instances": [o.to_json() for o in self.outcomes]}
        if self.cancelled:
            out["cancelled"] = True
        return out
