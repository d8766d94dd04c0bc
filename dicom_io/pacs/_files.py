"""Writing received instances: one file per instance, named by its SOP Instance UID, atomically."""
from __future__ import annotations

from pathlib import Path

from measurements.case import atomic_write

from .model import check_uid

__all__ = ["instance_path", "write_atomic"]


def instance_path(folder: Path, sop_instance_uid: str) -> Path:
    """``folder / "<SOPInstanceUID>.dcm"``; refuses a UID that is not digits and dots (it names a file)."""
    return folder / f"{check_uid(sop_instance_uid, 'SOP Instance UID')}.dcm"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` through a hidden temporary file in the same folder, then rename it over `path`.

    A reader of the folder sees either no file or the whole file, never a part.
    """
    atomic_write(path, lambda handle: handle.write(data), suffix=".part")
