"""Helpers for the dicom_io tests: real test files (offline) and DICOM films written in code.

A module with a unique name (not ``conftest``) so that test files can import it directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

DATA = Path(__file__).resolve().parents[1] / "data"

#: Names that must never reach log records or error messages.
PATIENT_NAME = "Secretname^Patricia"
PATIENT_ID = "PID-77031-SECRET"

DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"


def pydicom_file(name: str) -> Path:
    """A file of pydicom's or pydicom-data's test sets, without ever going to the network."""
    found = get_testdata_file(name, download=False)
    if found is None:
        pytest.skip(f"{name} not installed (pydicom-data missing?)")
    return Path(str(found))




def make_dataset(pixels: np.ndarray, *, photometric: str = "MONOCHROME2", bits_stored: int | None = None, **attrs: Any) -> Dataset:
    """A DX-like data set around ``pixels`` (rows, columns), (frames, rows, columns) or (rows, columns, 3)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = DX_STORAGE
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = DX_STORAGE
    ds.Modality = "DX"
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.StudyDate = "20240102"
    ds.StudyDescription = "Long leg standing"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.set_pixel_data(pixels, photometric, bits_stored or pixels.dtype.itemsize * 8)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    return ds


def save(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def smooth_image(rows: int, columns: int, *, bits: int = 12, seed: int = 0) -> np.ndarray:
    """uint16 test image: gradients plus noise within ``bits`` bits."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, rows)[:, None]
    x = np.linspace(0.0, 1.0, columns)[None, :]
    top = 2**bits - 1
    image = top * (0.2 + 0.6 * y * (0.5 + 0.5 * np.cos(3 * x))) + rng.normal(0, top * 0.01, (rows, columns))
    return np.clip(image, 0, top).astype(np.uint16)
