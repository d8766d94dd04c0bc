"""DICOMweb with dicomweb-client: QIDO-RS (search), WADO-RS (retrieve), STOW-RS (store).

The same operations and results as :class:`~dicom_io.pacs.dimse.DimseClient`, so that the
command line and the GUI treat both kinds of node alike. HTTP failures become
:class:`~dicom_io.pacs.errors.PacsError` sentences; films are asked for in the transfer syntax the
server holds (``application/dicom; transfer-syntax=*``).
"""
from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRLittleEndian

from ._files import instance_path, write_atomic
from .dimse import _checked_uid, series_from_identifier, study_from_identifier
from .errors import (
    AssociationRejectedError,
    NodeUnreachableError,
    PacsError,
    PacsProtocolError,
    PacsTimeoutError,
    RetrieveFailedError,
    StudyNotFoundError,
)
from .model import (
    CancelCheck,
    Progress,
    ProgressCallback,
    RetrieveResult,
    Series,
    StoreOutcome,
    StoreResult,
    Study,
    StudyQuery,
)
from .nodes import WebNode

__all__ = ["WebClient"]

log = logging.getLogger(__name__)

AS_STORED = (("application/dicom", "*"),)
_STUDY_FIELDS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyDescription",
                 "AccessionNumber", "ModalitiesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances")
_SERIES_FIELDS = ("Modality", "SeriesDescription", "SeriesNumber", "NumberOfSeriesRelatedInstances")


class _Client(DICOMwebClient):
    """dicomweb-client with query values percent-encoded except ``*``.

    dicomweb-client encodes the DICOM wildcard as ``%2A``; RFC 3986 allows a literal ``*`` in a
    query, and some servers (Orthanc's DICOMweb plugin 1.7) match ``%2A`` literally, so that
    ``PatientName=SMITH%2A`` finds nobody.
    """

    def _http_get(self, url: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                  stream: bool = False) -> requests.models.Response:
        if params:
            parts = []
            for key, value in params.items():
                for v in value if isinstance(value, (list, tuple, set)) else [value]:
                    parts.append(f"{key}={quote(str(v), safe='*')}")
            url = f"{url}?{'&'.join(parts)}"
        return super()._http_get(url, None, headers, stream)


class WebClient:
    """Query, retrieve and store on one DICOMweb node.

    `session` (a ``requests.Session``) lets the caller add authentication or certificates.
    `node.timeout_s` bounds the connection; a response may take four times as long.
    """

    def __init__(self, node: WebNode, session: requests.Session | None = None) -> None:
        self.node = node
        try:
            self._client = _Client(url=node.url.rstrip("/"), session=session,
                                          timeout=(node.timeout_s, 4 * node.timeout_s))
        except ValueError as exc:
            raise PacsError(f"The DICOMweb address {node.url!r} is not usable ({exc}).") from None
        # No silent retries: an unreachable server is reported at once (the user or the GUI retries).
        self._client.set_http_retry_params(retry=False)

    # --- errors ---------------------------------------------------------------------------------

    def _error(self, exc: Exception, what: str, not_found: str | None = None) -> PacsError:
        label = self.node.label
        if isinstance(exc, requests.exceptions.Timeout):
            return PacsTimeoutError(f"The DICOMweb server {label} did not answer the {what} within "
                                    f"{4 * self.node.timeout_s:.0f} s.")
        if isinstance(exc, requests.exceptions.SSLError):
            return NodeUnreachableError(f"The secure connection to {label} failed (certificate or TLS problem).")
        if isinstance(exc, requests.exceptions.ConnectionError):
            return NodeUnreachableError(f"Nothing answers at {label}: check the address and that the server is running.")
        if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
            code = exc.response.status_code
            if code == 404 and not_found:
                return StudyNotFoundError(not_found)
            if code in (401, 403):
                return AssociationRejectedError(f"The DICOMweb server {label} refused access (HTTP {code}): "
                                                "this program needs an account or a token there.")
            reason = exc.response.reason or ""
            return PacsProtocolError(f"The DICOMweb server {label} refused the {what} (HTTP {code} {reason}).".replace(" )", ")"))
        if isinstance(exc, (ValueError, InvalidDicomError, json.JSONDecodeError)):
            return PacsProtocolError(f"The DICOMweb server {label} sent an answer to the {what} this program cannot read.")
        return PacsError(f"The {what} on {label} failed ({type(exc).__name__}).")

    # --- QIDO-RS --------------------------------------------------------------------------------

    def echo(self) -> float:
        """A QIDO-RS search for one study; the round trip in seconds."""
        started = time.perf_counter()
        try:
            self._client.search_for_studies(limit=1)
        except Exception as exc:
            raise self._error(exc, "test search") from None
        return time.perf_counter() - started

    def find_studies(self, query: StudyQuery) -> list[Study]:
        """QIDO-RS study search; several modalities are asked one by one and merged."""
        studies: dict[str, Study] = {}
        for modality in query.modalities or ("",):
            filters = {k: v for k, v in (("PatientName", query.patient_name), ("PatientID", query.patient_id),
                                         ("AccessionNumber", query.accession), ("StudyDate", query.date),
                                         ("ModalitiesInStudy", modality),
                                         ("StudyInstanceUID", query.study_uid)) if v}
            try:
                found = self._client.search_for_studies(search_filters=filters, fields=list(_STUDY_FIELDS),
                                                        limit=query.limit)
            except Exception as exc:
                raise self._error(exc, "search") from None
            for item in found:
                study = study_from_identifier(Dataset.from_json(item))
                if study.study_uid and study.study_uid not in studies:
                    studies[study.study_uid] = study
        result = sorted(studies.values(), key=lambda s: (s.study_date or "", s.study_uid), reverse=True)
        return result[: query.limit] if query.limit else result

    def _study(self, study_uid: str) -> Study | None:
        found = self.find_studies(StudyQuery(study_uid=study_uid))
        return found[0] if found else None

    def find_series(self, study_uid: str) -> list[Series]:
        study_uid = _checked_uid(study_uid, "Study Instance UID")
        missing = f"The DICOMweb server {self.node.label} holds no study with UID {study_uid}."
        try:
            found = self._client.search_for_series(study_instance_uid=study_uid, fields=list(_SERIES_FIELDS),
                                                   )
        except Exception as exc:
            raise self._error(exc, "series search", not_found=missing) from None
        series = [series_from_identifier(Dataset.from_json(item)) for item in found]
        if not series and self._study(study_uid) is None:
            raise StudyNotFoundError(missing)
        return sorted(series, key=lambda s: (s.number if s.number is not None else 1 << 30, s.series_uid))

    # --- WADO-RS --------------------------------------------------------------------------------

    def retrieve(self, study_uid: str, out_dir: str | Path, *, series_uid: str | None = None,
                 progress: ProgressCallback | None = None, cancel: CancelCheck | None = None) -> RetrieveResult:
        """WADO-RS retrieve of a study (or a series) into `out_dir`, as the server stores it.

        Same contract as :meth:`DimseClient.retrieve`: one ``SOPInstanceUID.dcm`` per instance,
        written atomically; raises StudyNotFoundError for an unknown study.
        """
        study_uid = _checked_uid(study_uid, "Study Instance UID")
        if series_uid:
            series_uid = _checked_uid(series_uid, "Series Instance UID")
        folder = Path(out_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PacsError(f"The folder {folder} cannot be created ({exc.strerror or exc}).") from None
        what = f"series {series_uid} of study {study_uid}" if series_uid else f"study {study_uid}"
        missing = f"The DICOMweb server {self.node.label} holds no {what}."
        total = self._expected(study_uid, series_uid)
        result = RetrieveResult(method="WADO-RS")
        files: dict[str, Path] = {}
        try:
            instances: Iterator[Dataset]
            if series_uid:
                instances = self._client.iter_series(study_uid, series_uid, media_types=AS_STORED)
            else:
                instances = self._client.iter_study(study_uid, media_types=AS_STORED)
            for ds in instances:
                try:
                    path = instance_path(folder, str(ds.SOPInstanceUID))
                    buffer = io.BytesIO()
                    dcmwrite(buffer, ds, enforce_file_format=True)
                    write_atomic(path, buffer.getvalue())
                    files[str(ds.SOPInstanceUID)] = path
                except (ValueError, AttributeError) as exc:
                    log.info("an instance could not be kept: %s", type(exc).__name__)
                    result.failed += 1
                    result.problems.append("An instance from the server could not be written (a bad UID or header).")
                except OSError as exc:
                    result.failed += 1
                    result.problems.append(f"An instance could not be written to {folder} ({exc.strerror or exc}).")
                if progress is not None:
                    progress(Progress(len(files), total, result.failed,
                                      f"received {len(files)}" + (f" of {total}" if total else "") + " instance(s)"))
                if cancel is not None and cancel():
                    result.cancelled = True
                    close = getattr(instances, "close", None)
                    if close is not None:
                        close()
                    break
        except Exception as exc:
            error = self._error(exc, "retrieve", not_found=missing)
            if not files:
                raise error from None
            result.problems.append(str(error))
        result.files = sorted(files.values())
        result.received = len(files)
        if total is not None and not result.cancelled:
            result.failed = max(result.failed, total - result.received)
            if total > result.received and not result.problems:
                result.problems.append(f"{total - result.received} instance(s) listed by the server did not arrive.")
        if result.received == 0 and not result.cancelled:
            if total == 0 or self._study(study_uid) is None:
                raise StudyNotFoundError(missing)
            raise RetrieveFailedError(f"Nothing was retrieved of {what} from {self.node.label}.")
        return result

    def _expected(self, study_uid: str, series_uid: str | None) -> int | None:
        """How many instances the server lists (for the progress bar), None when it does not say."""
        try:
            if series_uid:
                found = self._client.search_for_series(study_instance_uid=study_uid,
                                                       search_filters={"SeriesInstanceUID": series_uid},
                                                       fields=["NumberOfSeriesRelatedInstances"])
                key = "NumberOfSeriesRelatedInstances"
            else:
                found = self._client.search_for_studies(search_filters={"StudyInstanceUID": study_uid},
                                                        fields=["NumberOfStudyRelatedInstances"])
                key = "NumberOfStudyRelatedInstances"
        except Exception:
            return None
        if not found:
            return 0
        value = Dataset.from_json(found[0]).get(key)
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    # --- STOW-RS --------------------------------------------------------------------------------

    def store(self, items: Sequence[str | Path | Dataset], *, progress: ProgressCallback | None = None,
              cancel: CancelCheck | None = None) -> StoreResult:
        """STOW-RS, one request per object (per-object status and progress). An object the server
        refuses in its compressed form is sent again uncompressed (explicit VR little endian)."""
        result = StoreResult()
        total = len(items)
        for n, item in enumerate(items):
            if cancel is not None and cancel():
                result.cancelled = True
                for rest in items[n:]:
                    result.outcomes.append(StoreOutcome(_uid_of(rest), "failed", "not sent: cancelled", _path_of(rest)))
                break
            result.outcomes.append(self._store_one(item))
            if progress is not None:
                progress(Progress(result.stored, total, result.failed, f"sent {n + 1} of {total} instance(s)"))
        return result

    def _store_one(self, item: str | Path | Dataset) -> StoreOutcome:
        path = _path_of(item)
        if isinstance(item, Dataset):
            ds = item
        else:
            try:
                ds = dcmread(item)
            except FileNotFoundError:
                return StoreOutcome("", "failed", "file not found", path)
            except (InvalidDicomError, ValueError, TypeError, EOFError, KeyError):
                return StoreOutcome("", "failed", "not a DICOM file", path)
            except OSError as exc:
                return StoreOutcome("", "failed", f"cannot be read ({exc.strerror or exc})", path)
        uid = str(ds.get("SOPInstanceUID", ""))
        meta = getattr(ds, "file_meta", None)
        ts = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else ExplicitVRLittleEndian
        status, message = self._post(ds)
        converted = False
        if status == "refused" and meta is not None and "TransferSyntaxUID" in meta and meta.TransferSyntaxUID.is_compressed:
            try:
                plain = ds.copy()
                plain.decompress()
            except Exception as exc:
                log.info("conversion for STOW-RS failed: %s", type(exc).__name__)
            else:
                status, message = self._post(plain)
                converted = True
        return StoreOutcome(uid, status, message, path, ts, converted)

    def _post(self, ds: Dataset) -> tuple[str, str]:
        try:
            response = self._client.store_instances([ds])
        except requests.exceptions.HTTPError as exc:
            reason = _failure_reason(exc.response)
            code = exc.response.status_code if exc.response is not None else 0
            return "refused", f"the server refused it (HTTP {code}{': ' + reason if reason else ''})"
        except Exception as exc:
            error = self._error(exc, "store")
            if isinstance(error, (NodeUnreachableError, PacsTimeoutError)):
                raise error from None
            return "failed", str(error)
        failed = response.get("FailedSOPSequence") if response is not None else None
        if failed:
            reason = failed[0].get("FailureReason")
            return "refused", f"the server refused it (failure reason 0x{int(reason):04X})" if reason is not None else \
                "the server refused it"
        stored = response.get("ReferencedSOPSequence") if response is not None else None
        if stored and stored[0].get("WarningReason") is not None:
            return "warning", f"stored with a warning (0x{int(stored[0].WarningReason):04X})"
        return "stored", ""


def _failure_reason(response: Any) -> str:
    if response is None:
        return ""
    try:
        data = response.json()
        ds = Dataset.from_json(data[0] if isinstance(data, list) else data)
        failed = ds.get("FailedSOPSequence")
        if failed and failed[0].get("FailureReason") is not None:
            return f"failure reason 0x{int(failed[0].FailureReason):04X}"
    except Exception:
        return ""
    return ""


def _path_of(item: Any) -> str | None:
    return None if isinstance(item, Dataset) else str(item)


def _uid_of(item: Any) -> str:
    return str(item.get("SOPInstanceUID", "")) if isinstance(item, Dataset) else ""
