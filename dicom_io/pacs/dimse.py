"""DICOM networking (DIMSE) with pynetdicom: C-ECHO, C-FIND, C-GET, C-MOVE and C-STORE.

One association per operation, opened and released here; every failure becomes a
:class:`~dicom_io.pacs.errors.PacsError` whose ``str()`` is a sentence (the node, what happened,
what to check). Progress is reported, and cancellation polled, on the thread that called the
operation (the GUI calls from a worker thread); pynetdicom's own threads only write files and
count.

Retrieval keeps the films as the PACS stores them: C-GET proposes, for each image storage class,
one presentation context per transfer syntax (JPEG 2000, JPEG-LS, JPEG lossless, RLE... and one for
the uncompressed syntaxes), so that the PACS can pick the context matching what it holds instead
of converting; the instance is written byte for byte as received. C-MOVE runs a storage SCP of
our own on the node's ``store_port`` for the time of the retrieve, accepting every storage class
in every transfer syntax.
"""
from __future__ import annotations

import copy

import logging
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import (
    AE,
    ALL_TRANSFER_SYNTAXES,
    AllStoragePresentationContexts,
    build_role,
    evt,
)
from pynetdicom.sop_class import (
    BasicTextSRStorage,
    Comprehensive3DSRStorage,
    ComprehensiveSRStorage,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    EncapsulatedPDFStorage,
    EnhancedSRStorage,
    GrayscaleSoftcopyPresentationStateStorage,
    KeyObjectSelectionDocumentStorage,
    MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
    MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
    SecondaryCaptureImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from ._files import instance_path, write_atomic
from .errors import (
    AssociationRejectedError,
    NodeSettingsError,
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
    check_uid,
)
from .nodes import DimseNode

__all__ = ["DimseClient", "IMAGE_STORAGE_CLASSES", "OTHER_STORAGE_CLASSES", "COMPRESSED_SYNTAXES",
           "UNCOMPRESSED_SYNTAXES", "retrieve_contexts"]

log = logging.getLogger(__name__)

UNCOMPRESSED_SYNTAXES: tuple[str, ...] = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian)
COMPRESSED_SYNTAXES: tuple[str, ...] = (
    JPEG2000Lossless, JPEG2000, JPEGLSLossless, JPEGLSNearLossless, JPEGLosslessSV1, JPEGLossless,
    JPEGBaseline8Bit, JPEGExtended12Bit, RLELossless, DeflatedExplicitVRLittleEndian,
    HTJ2KLossless, HTJ2KLosslessRPCL, HTJ2K,
)
# What a long-leg study holds: the films (CR, DX), secondary captures, and the objects this
# program (or another workstation) writes back. Each image class costs 14 presentation contexts
# of the 128 an association allows.
IMAGE_STORAGE_CLASSES: tuple[str, ...] = (
    ComputedRadiographyImageStorage, DigitalXRayImageStorageForPresentation, DigitalXRayImageStorageForProcessing,
    SecondaryCaptureImageStorage, MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
    MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
)
OTHER_STORAGE_CLASSES: tuple[str, ...] = (
    GrayscaleSoftcopyPresentationStateStorage, Comprehensive3DSRStorage, ComprehensiveSRStorage,
    EnhancedSRStorage, BasicTextSRStorage, EncapsulatedPDFStorage, KeyObjectSelectionDocumentStorage,
)
MAX_CONTEXTS = 126  # of the 128 (odd IDs 1..255) an association may propose, with room for one more

_STORE_STATUS: dict[int, str] = {
    0x0117: "the instance UID is invalid",
    0x0122: "the PACS does not accept this kind of object (SOP class not supported)",
    0x0124: "this program is not authorised to store there",
    0x0210: "the message ID is a duplicate",
    0x0211: "the PACS does not support storing",
    0x0212: "the PACS did not understand the request",
}


def _status_meaning(code: int) -> str:
    if code in _STORE_STATUS:
        return _STORE_STATUS[code]
    if 0xA700 <= code <= 0xA7FF:
        return "the PACS is out of resources"
    if 0xA900 <= code <= 0xA9FF:
        return "the PACS says the object does not match its SOP class"
    if 0xC000 <= code <= 0xCFFF:
        return "the PACS cannot process the object"
    if code == 0xA801:
        return "the PACS does not know the move destination"
    if code == 0xFE00:
        return "the operation was cancelled"
    return "the PACS refused it"


def _status_text(status: Dataset) -> str:
    code = int(status.Status)
    text = f"{_status_meaning(code)} (status 0x{code:04X}"
    comment = str(status.get("ErrorComment", "") or "").strip()
    if comment:
        text += f": {comment[:120]}"
    return text + ")"


def _code_text(status: Dataset) -> str:
    code = int(status.Status)
    comment = str(status.get("ErrorComment", "") or "").strip()
    return f"status 0x{code:04X}" + (f": {comment[:120]}" if comment else "")


def retrieve_contexts() -> tuple[list[tuple[str, list[str]]], list[Any]]:
    """The presentation contexts and SCP/SCU role items C-GET proposes.

    One context per (image storage class, compressed transfer syntax), one with the uncompressed
    syntaxes per class, plus the Study Root GET model; role selection makes this program the
    storage SCP for each class.
    """
    contexts: list[tuple[str, list[str]]] = [(StudyRootQueryRetrieveInformationModelGet, [ExplicitVRLittleEndian,
                                                                                         ImplicitVRLittleEndian])]
    for sop_class in IMAGE_STORAGE_CLASSES:
        contexts.extend((sop_class, [ts]) for ts in COMPRESSED_SYNTAXES)
        contexts.append((sop_class, list(UNCOMPRESSED_SYNTAXES)))
    for sop_class in OTHER_STORAGE_CLASSES:
        contexts.append((sop_class, list(UNCOMPRESSED_SYNTAXES)))
    roles = [build_role(c, scp_role=True) for c in IMAGE_STORAGE_CLASSES + OTHER_STORAGE_CLASSES]
    return contexts, roles


class _NoContextAccepted(PacsProtocolError):
    """The association was accepted without any presentation context (nothing proposed is supported)."""


class _Receiver:
    """The C-STORE handler of a retrieve: writes each instance as received and counts.

    Runs on pynetdicom's threads; the calling thread reads the counters.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.files: dict[str, Path] = {}
        self.problems: list[str] = []
        self.write_failures = 0
        self.stop = False

    def handle(self, event: Any) -> int:
        if self.stop:
            return 0xA700  # refused: out of resources (the user cancelled)
        uid = str(event.request.AffectedSOPInstanceUID or "")
        try:
            path = instance_path(self.folder, uid)
        except ValueError:
            with self.lock:
                self.write_failures += 1
                self.problems.append("The PACS sent an instance without a valid SOP Instance UID; it was not kept.")
            return 0xC000
        try:
            data = event.encoded_dataset(include_meta=True)
            write_atomic(path, data)
        except OSError as exc:
            with self.lock:
                self.write_failures += 1
                self.problems.append(f"An instance could not be written to {self.folder} ({exc.strerror or exc}).")
            return 0xA700
        with self.lock:
            self.files[uid] = path
        return 0x0000

    @property
    def received(self) -> int:
        with self.lock:
            return len(self.files)


def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _multi(ds: Dataset, keyword: str) -> tuple[str, ...]:
    value = ds.get(keyword)
    if value is None or value == "":
        return ()
    if isinstance(value, (str, bytes)):
        return tuple(v for v in str(value).split("\\") if v)
    return tuple(str(v) for v in value if str(v))


def study_from_identifier(ds: Dataset) -> Study:
    """A C-FIND study-level response as a :class:`Study`."""
    return Study(
        study_uid=_text(ds, "StudyInstanceUID") or "",
        patient_name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        birth_date=_text(ds, "PatientBirthDate"),
        sex=_text(ds, "PatientSex"),
        study_date=_text(ds, "StudyDate"),
        description=_text(ds, "StudyDescription"),
        accession=_text(ds, "AccessionNumber"),
        modalities=_multi(ds, "ModalitiesInStudy"),
        series=_int(ds, "NumberOfStudyRelatedSeries"),
        instances=_int(ds, "NumberOfStudyRelatedInstances"),
    )


def series_from_identifier(ds: Dataset) -> Series:
    return Series(
        series_uid=_text(ds, "SeriesInstanceUID") or "",
        modality=_text(ds, "Modality"),
        description=_text(ds, "SeriesDescription"),
        number=_int(ds, "SeriesNumber"),
        instances=_int(ds, "NumberOfSeriesRelatedInstances"),
    )


class DimseClient:
    """Query, retrieve and store on one DIMSE node.

    Parameters
    ----------
    node : the PACS (address, AE titles, C-GET or C-MOVE, storage port for C-MOVE, timeout).

    Timeouts: `node.timeout_s` bounds the TCP connection and the association handshake; waiting
    for one DIMSE message (a C-FIND match, or a C-GET/C-MOVE response, which follows the whole
    transfer of one instance) is allowed four times as long.
    """

    def __init__(self, node: DimseNode) -> None:
        self.node = node

    # --- associations ------------------------------------------------------------------------------

    def _ae(self) -> AE:
        ae = AE(ae_title=self.node.calling_aet)
        t = self.node.timeout_s
        ae.connection_timeout = t
        ae.acse_timeout = t
        ae.dimse_timeout = 4 * t
        ae.network_timeout = 4 * t
        ae.maximum_pdu_size = 0  # no limit on what the PACS sends us
        return ae

    def _associate(self, ae: AE, *, roles: Sequence[Any] | None = None,
                   handlers: Sequence[Any] | None = None, _retry: bool = True) -> Any:
        node = self.node
        started = time.monotonic()
        try:
            assoc = ae.associate(node.host, node.port, ae_title=node.called_aet, ext_neg=list(roles or []) or None,
                                 evt_handlers=list(handlers or []) or None)
        except socket.gaierror:
            raise NodeUnreachableError(f"The PACS host {node.host!r} is unknown (the name does not resolve).") from None
        except (OSError, ValueError):
            raise self._why_unreachable() from None
        if assoc.is_established:
            return assoc
        primitive = getattr(assoc.acceptor, "primitive", None)
        if not assoc.is_rejected and primitive is not None and getattr(primitive, "result", None) == 0x00:
            # Accepted, then aborted by pynetdicom because no presentation context was accepted.
            raise _NoContextAccepted(f"The PACS {node.label} accepted the association but none of the services or "
                                     "kinds of object proposed.")
        if assoc.is_rejected:
            reason = str(getattr(primitive, "reason_str", "") or "no reason given").rstrip(".")
            hint = ""
            if "AE title" in reason:
                hint = "; check the called and calling AE titles of the node, and that the PACS knows this program's AE title"
            raise AssociationRejectedError(f"The PACS {node.label} refused the association: {reason[:1].lower()}{reason[1:]}{hint}.")
        error = self._why_unreachable()
        if _retry and isinstance(error, PacsTimeoutError) and time.monotonic() - started < node.timeout_s / 2:
            # Neither accepted nor rejected, quickly, yet the port answers: a peer that closes the
            # connection right after its A-ASSOCIATE-RJ can be seen as an abort. Ask once more to
            # learn the real answer.
            return self._associate(ae, roles=roles, handlers=handlers, _retry=False)
        raise error

    def _why_unreachable(self) -> PacsError:
        """Explain an association that was not established and not rejected (probe the socket)."""
        node = self.node
        where = f"{node.host}:{node.port}"
        try:
            with socket.create_connection((node.host, node.port), timeout=min(node.timeout_s, 10.0)):
                pass
        except socket.gaierror:
            return NodeUnreachableError(f"The PACS host {node.host!r} is unknown (the name does not resolve).")
        except ConnectionRefusedError:
            return NodeUnreachableError(
                f"Nothing answers at {where} (connection refused): check the host, the port and that the PACS is running.")
        except TimeoutError:
            return PacsTimeoutError(f"No answer from {where} within {node.timeout_s:.0f} s.")
        except OSError as exc:
            return NodeUnreachableError(f"{where} cannot be reached ({exc.strerror or exc}).")
        return PacsTimeoutError(
            f"{where} accepted the network connection but did not complete the DICOM association within "
            f"{node.timeout_s:.0f} s: check that this port is the PACS's DICOM port.")

    def _lost(self, what: str) -> PacsTimeoutError:
        return PacsTimeoutError(
            f"The PACS {self.node.label} stopped answering during the {what} (no response within "
            f"{4 * self.node.timeout_s:.0f} s, or the connection was closed).")

    @staticmethod
    def _release(assoc: Any) -> None:
        if assoc.is_established:
            try:
                assoc.release()
            except Exception:
                assoc.abort()

    # --- C-ECHO -------------------------------------------------------------------------------------

    def echo(self) -> float:
        """C-ECHO; the round trip in seconds. Raises PacsError when the node does not answer."""
        started = time.perf_counter()
        ae = self._ae()
        ae.add_requested_context(Verification)
        assoc = self._associate(ae)
        try:
            status = assoc.send_c_echo()
        finally:
            self._release(assoc)
        if not status or "Status" not in status:
            raise self._lost("verification (C-ECHO)")
        if int(status.Status) != 0:
            raise PacsProtocolError(f"The PACS {self.node.label} answered the C-ECHO with status 0x{int(status.Status):04X}.")
        return time.perf_counter() - started

    # --- C-FIND -------------------------------------------------------------------------------------

    def _find(self, assoc: Any, identifier: Dataset, msg_id: int) -> list[Dataset]:
        matches: list[Dataset] = []
        for status, ident in assoc.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind, msg_id=msg_id):
            if not status or "Status" not in status:
                raise self._lost("search (C-FIND)")
            code = int(status.Status)
            if code in (0xFF00, 0xFF01):
                if ident is not None:
                    matches.append(ident)
            elif code == 0x0000:
                break
            else:
                raise PacsProtocolError(f"The PACS {self.node.label} refused the search: {_status_text(status)}.")
        return matches

    def _find_assoc(self) -> Any:
        ae = self._ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
        return self._associate(ae)

    def find_studies(self, query: StudyQuery) -> list[Study]:
        """Study-level C-FIND (Study Root). Several modalities are asked one by one and merged,
        since a multi-valued Modalities in Study key is not matched the same way by every PACS."""
        assoc = self._find_assoc()
        studies: dict[str, Study] = {}
        try:
            for msg_id, modality in enumerate(query.modalities or ("",), start=1):
                ds = Dataset()
                ds.QueryRetrieveLevel = "STUDY"
                ds.StudyInstanceUID = query.study_uid
                ds.PatientName = query.patient_name
                ds.PatientID = query.patient_id
                ds.PatientBirthDate = ""
                ds.PatientSex = ""
                ds.StudyDate = query.date
                ds.StudyTime = ""
                ds.StudyDescription = ""
                ds.AccessionNumber = query.accession
                ds.ModalitiesInStudy = modality
                ds.NumberOfStudyRelatedSeries = ""
                ds.NumberOfStudyRelatedInstances = ""
                for ident in self._find(assoc, ds, msg_id):
                    study = study_from_identifier(ident)
                    if study.study_uid and study.study_uid not in studies:
                        studies[study.study_uid] = study
        finally:
            self._release(assoc)
        found = sorted(studies.values(), key=lambda s: (s.study_date or "", s.study_uid), reverse=True)
        return found[: query.limit] if query.limit else found

    def find_series(self, study_uid: str) -> list[Series]:
        """Series-level C-FIND of one study; raises StudyNotFoundError when the study is unknown."""
        study_uid = _checked_uid(study_uid, "Study Instance UID")
        assoc = self._find_assoc()
        try:
            ds = Dataset()
            ds.QueryRetrieveLevel = "SERIES"
            ds.StudyInstanceUID = study_uid
            ds.SeriesInstanceUID = ""
            ds.Modality = ""
            ds.SeriesDescription = ""
            ds.SeriesNumber = ""
            ds.NumberOfSeriesRelatedInstances = ""
            series = [series_from_identifier(i) for i in self._find(assoc, ds, 1)]
            if not series:
                probe = Dataset()
                probe.QueryRetrieveLevel = "STUDY"
                probe.StudyInstanceUID = study_uid
                if not self._find(assoc, probe, 2):
                    raise StudyNotFoundError(f"The PACS {self.node.label} holds no study with UID {study_uid}.")
        finally:
            self._release(assoc)
        return sorted(series, key=lambda s: (s.number if s.number is not None else 1 << 30, s.series_uid))

    def _study_exists(self, study_uid: str) -> bool:
        try:
            return bool(self.find_studies(StudyQuery(study_uid=study_uid)))
        except PacsError:
            return True  # cannot tell: do not claim the study is unknown

    # --- C-GET / C-MOVE -----------------------------------------------------------------------------

    def retrieve(self, study_uid: str, out_dir: str | Path, *, series_uid: str | None = None,
                 progress: ProgressCallback | None = None, cancel: CancelCheck | None = None) -> RetrieveResult:
        """Retrieve a study (or one of its series) into `out_dir`, one ``SOPInstanceUID.dcm`` per instance.

        Uses the node's method (C-GET, or C-MOVE to this program's storage SCP). Each file is
        written atomically as it arrives, in the transfer syntax the PACS sent. A partial
        retrieve returns what arrived, with `failed` and `problems` saying what did not; a
        retrieve that brought nothing raises (StudyNotFoundError when the PACS does not hold the
        study, RetrieveFailedError otherwise). `cancel` is polled after each instance; a
        cancelled retrieve aborts the association and returns with `cancelled` set.
        """
        study_uid = _checked_uid(study_uid, "Study Instance UID")
        if series_uid:
            series_uid = _checked_uid(series_uid, "Series Instance UID")
        folder = Path(out_dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PacsError(f"The folder {folder} cannot be created ({exc.strerror or exc}).") from None
        identifier = Dataset()
        identifier.QueryRetrieveLevel = "SERIES" if series_uid else "STUDY"
        identifier.StudyInstanceUID = study_uid
        if series_uid:
            identifier.SeriesInstanceUID = series_uid
        receiver = _Receiver(folder)
        result = RetrieveResult(method=self.node.retrieve)
        if self.node.retrieve == "C-MOVE":
            self._move(identifier, receiver, result, progress, cancel)
        else:
            self._get(identifier, receiver, result, progress, cancel)
        with receiver.lock:
            result.files = sorted(receiver.files.values())
            result.received = len(result.files)
            result.problems = list(dict.fromkeys(receiver.problems + result.problems))
        result.failed = max(result.failed, receiver.write_failures)
        if result.received == 0 and not result.cancelled:
            what = f"series {series_uid} of study {study_uid}" if series_uid else f"study {study_uid}"
            if not self._study_exists(study_uid):
                raise StudyNotFoundError(f"The PACS {self.node.label} holds no study with UID {study_uid}.")
            detail = "; ".join(result.problems) or "it sent no instance"
            raise RetrieveFailedError(f"Nothing was retrieved of {what} from {self.node.label}: {detail[:1].lower()}{detail[1:]}")
        if progress is not None:
            progress(Progress(result.received, result.received + result.failed, result.failed,
                              f"received {result.received} instance(s)"))
        return result

    def _run_retrieve(self, responses: Iterable[tuple[Dataset, Dataset | None]], assoc: Any, what: str,
                      receiver: _Receiver, result: RetrieveResult, progress: ProgressCallback | None,
                      cancel: CancelCheck | None) -> None:
        for status, ident in responses:
            if not status or "Status" not in status:
                result.problems.append(str(self._lost(what)))
                break
            code = int(status.Status)
            remaining = _int(status, "NumberOfRemainingSuboperations")
            completed = _int(status, "NumberOfCompletedSuboperations") or 0
            failed = _int(status, "NumberOfFailedSuboperations") or 0
            warning = _int(status, "NumberOfWarningSuboperations") or 0
            if code == 0xFF00:
                total = None if remaining is None else remaining + completed + failed + warning
                if progress is not None:
                    done = receiver.received
                    progress(Progress(done, total, failed, f"received {done}" + (f" of {total}" if total else "")
                                      + " instance(s)"))
                if cancel is not None and cancel():
                    receiver.stop = True
                    result.cancelled = True
                    assoc.abort()
                    return
                continue
            # the final response
            result.failed = failed
            if code == 0xFE00:
                result.cancelled = True
            elif code == 0xB000 or failed:
                result.problems.append(
                    f"{failed} instance(s) did not arrive: the PACS reported failed sub-operations "
                    "(an object of a kind or a compression this program did not accept, or a storage error).")
            elif code == 0xA801:
                raise PacsProtocolError(
                    f"The PACS {self.node.label} does not know this program's AE title {self.node.calling_aet!r} as a "
                    f"move destination: add it to the PACS with this computer's address and port {self.node.store_port}, "
                    "or use C-GET.")
            elif code != 0x0000 and what.endswith("(C-MOVE)"):
                result.problems.append(
                    f"The PACS refused the C-MOVE ({_code_text(status)}): check that it knows this program's AE title "
                    f"{self.node.calling_aet!r} as a move destination, with this computer's address and port "
                    f"{self.node.store_port}.")
            elif code != 0x0000:
                result.problems.append(f"The PACS ended the retrieve: {_status_text(status)}.")
            break

    def _get(self, identifier: Dataset, receiver: _Receiver, result: RetrieveResult,
             progress: ProgressCallback | None, cancel: CancelCheck | None) -> None:
        ae = self._ae()
        contexts, roles = retrieve_contexts()
        for abstract, syntaxes in contexts:
            ae.add_requested_context(abstract, syntaxes)
        assoc = self._associate(ae, roles=roles, handlers=[(evt.EVT_C_STORE, receiver.handle)])
        try:
            get_cx = [cx for cx in assoc.accepted_contexts if cx.abstract_syntax == StudyRootQueryRetrieveInformationModelGet]
            if not get_cx:
                raise PacsProtocolError(f"The PACS {self.node.label} does not offer C-GET: set the node's retrieve method to C-MOVE.")
            responses = assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet)
            self._run_retrieve(responses, assoc, "retrieve (C-GET)", receiver, result, progress, cancel)
        finally:
            self._release(assoc)

    def _move(self, identifier: Dataset, receiver: _Receiver, result: RetrieveResult,
              progress: ProgressCallback | None, cancel: CancelCheck | None) -> None:
        node = self.node
        scp = AE(ae_title=node.calling_aet)
        scp.acse_timeout = node.timeout_s
        scp.dimse_timeout = 4 * node.timeout_s
        scp.network_timeout = 4 * node.timeout_s
        scp.maximum_pdu_size = 0
        for cx in AllStoragePresentationContexts:
            scp.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        try:
            # All interfaces: the PACS reaches this computer by the address it was given for our AE title.
            server = scp.start_server(("", node.store_port), block=False,
                                      evt_handlers=[(evt.EVT_C_STORE, receiver.handle)])
        except OSError as exc:
            raise NodeSettingsError(
                f"The storage port {node.store_port} for C-MOVE cannot be opened ({exc.strerror or exc}); "
                "choose another store port or use C-GET.") from None
        try:
            ae = self._ae()
            ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
            assoc = self._associate(ae)
            try:
                responses = assoc.send_c_move(identifier, node.calling_aet, StudyRootQueryRetrieveInformationModelMove)
                self._run_retrieve(responses, assoc, "retrieve (C-MOVE)", receiver, result, progress, cancel)
            finally:
                self._release(assoc)
        finally:
            server.shutdown()

    # --- C-STORE ------------------------------------------------------------------------------------

    def store(self, items: Sequence[str | Path | Dataset], *, progress: ProgressCallback | None = None,
              cancel: CancelCheck | None = None) -> StoreResult:
        """C-STORE files (paths) or datasets, keeping each one's transfer syntax when the node
        accepts it and converting to explicit VR little endian otherwise.

        Every item gets a :class:`StoreOutcome`. Raises only when no association can be made at
        all (unreachable, rejected); a lost association marks what was not sent as failed.
        """
        result = StoreResult()
        prepared: list[_Outgoing] = []
        for item in items:
            outgoing, problem = _prepare(item)
            if problem is not None:
                result.outcomes.append(problem)
            else:
                prepared.append(outgoing)
        total = len(prepared) + len(result.outcomes)
        for batch in _batches(prepared):
            if result.cancelled:
                break
            self._store_batch(batch, result, total, progress, cancel)
        if result.cancelled:
            sent = {o.sop_instance_uid for o in result.outcomes}
            for o in prepared:
                if o.sop_instance_uid not in sent:
                    result.outcomes.append(o.outcome("failed", "not sent: cancelled"))
        return result

    def _store_batch(self, batch: list["_Outgoing"], result: StoreResult, total: int,
                     progress: ProgressCallback | None, cancel: CancelCheck | None) -> None:
        ae = self._ae()
        for sop_class, syntaxes in _store_contexts(batch):
            ae.add_requested_context(sop_class, syntaxes)
        try:
            assoc = self._associate(ae)
        except _NoContextAccepted:
            for outgoing in batch:
                result.outcomes.append(outgoing.outcome(
                    "refused", f"the PACS does not accept this kind of object ({UID(outgoing.sop_class).name})"))
            return
        try:
            accepted: dict[tuple[str, str], Any] = {}
            for cx in assoc.accepted_contexts:
                accepted.setdefault((str(cx.abstract_syntax), str(cx.transfer_syntax[0])), cx)
            lost = False
            for n, outgoing in enumerate(batch):
                if cancel is not None and cancel():
                    result.cancelled = True
                    break
                if lost:
                    result.outcomes.append(outgoing.outcome("failed", "not sent: the connection was lost"))
                    continue
                outcome, lost = self._store_one(assoc, outgoing, accepted, msg_id=n + 1)
                result.outcomes.append(outcome)
                if progress is not None:
                    progress(Progress(result.stored, total, result.failed,
                                      f"sent {len(result.outcomes)} of {total} instance(s)"))
        finally:
            self._release(assoc)

    def _store_one(self, assoc: Any, outgoing: "_Outgoing", accepted: dict[tuple[str, str], Any],
                   msg_id: int) -> tuple[StoreOutcome, bool]:
        key = (outgoing.sop_class, outgoing.transfer_syntax)
        converted = False
        if key in accepted:
            payload: Path | Dataset = outgoing.source
        elif (outgoing.sop_class, ExplicitVRLittleEndian) in accepted or (outgoing.sop_class, ImplicitVRLittleEndian) in accepted:
            try:
                payload = outgoing.decompressed()
            except Exception as exc:
                log.info("conversion to explicit VR little endian failed: %s", type(exc).__name__)
                return outgoing.outcome("failed", "the PACS does not accept its compression and it could not be "
                                                  "converted to uncompressed"), False
            converted = True
        else:
            return outgoing.outcome("refused", "the PACS does not accept this kind of object "
                                               f"({UID(outgoing.sop_class).name})"), False
        try:
            status = assoc.send_c_store(payload, msg_id=msg_id)
        except (OSError, ValueError, AttributeError, InvalidDicomError) as exc:
            log.info("C-STORE could not be sent: %s", type(exc).__name__)
            return outgoing.outcome("failed", "the file could not be read or encoded for sending"), False
        if not status or "Status" not in status:
            return outgoing.outcome("failed", str(self._lost("store (C-STORE)")), converted=converted), True
        code = int(status.Status)
        if code == 0x0000:
            return outgoing.outcome("stored", "", converted=converted), False
        if code in (0x0001, 0x0107, 0x0116) or 0xB000 <= code <= 0xBFFF:
            return outgoing.outcome("warning", f"stored with a warning (status 0x{code:04X})", converted=converted), False
        return outgoing.outcome("refused", _status_text(status), converted=converted), False


class _Outgoing:
    """One object to send: its path or dataset, and what its header says."""

    __slots__ = ("source", "sop_class", "sop_instance_uid", "transfer_syntax", "path")

    def __init__(self, source: Path | Dataset, sop_class: str, uid: str, ts: str, path: str | None) -> None:
        self.source, self.sop_class, self.sop_instance_uid, self.transfer_syntax, self.path = source, sop_class, uid, ts, path

    def outcome(self, status: str, message: str, *, converted: bool = False) -> StoreOutcome:
        return StoreOutcome(self.sop_instance_uid, status, message, self.path, self.transfer_syntax, converted)

    def decompressed(self) -> Dataset:
        # a deep copy: Dataset.copy() shares the elements and the file meta, and decompress() would
        # rewrite the caller's object (it may be written or sent again afterwards)
        ds = dcmread(self.source) if isinstance(self.source, Path) else copy.deepcopy(self.source)
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            ds.decompress()  # pydicom 3: decodes the pixel data and sets explicit VR little endian
        elif ds.file_meta.TransferSyntaxUID != ExplicitVRLittleEndian:
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        return ds


def _prepare(item: str | Path | Dataset) -> tuple[_Outgoing | None, StoreOutcome | None]:
    if isinstance(item, Dataset):
        ds = item
        if not hasattr(ds, "file_meta") or "TransferSyntaxUID" not in ds.file_meta:
            ds = ds.copy()
            meta = FileMetaDataset(getattr(item, "file_meta", FileMetaDataset()))
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.file_meta = meta
        uid = str(ds.get("SOPInstanceUID", ""))
        sop_class = str(ds.get("SOPClassUID", ""))
        if not uid or not sop_class:
            return None, StoreOutcome(uid, "failed", "the object has no SOP class or instance UID")
        if "PixelData" in ds and UID(ds.file_meta.TransferSyntaxUID).is_compressed:
            # Encapsulated pixel data has an undefined length. A dataset built in memory does not
            # say so until pydicom writes it to a file (dcmwrite sets this flag the same way), and
            # pynetdicom encodes it as it is: the PACS would receive a broken message.
            ds["PixelData"].is_undefined_length = True
        return _Outgoing(ds, sop_class, uid, str(ds.file_meta.TransferSyntaxUID), None), None
    path = Path(item)
    try:
        header = dcmread(path, stop_before_pixels=True)
        uid = str(header.SOPInstanceUID)
        sop_class = str(header.SOPClassUID)
        ts = str(header.file_meta.TransferSyntaxUID)
    except FileNotFoundError:
        return None, StoreOutcome("", "failed", "file not found", str(path))
    except (InvalidDicomError, AttributeError, KeyError, ValueError, TypeError, EOFError):
        return None, StoreOutcome("", "failed", "not a DICOM file with a SOP class and instance UID", str(path))
    except OSError as exc:
        return None, StoreOutcome("", "failed", f"cannot be read ({exc.strerror or exc})", str(path))
    return _Outgoing(path, sop_class, uid, ts, str(path)), None


def _store_contexts(batch: Sequence[_Outgoing]) -> list[tuple[str, list[str]]]:
    """One context per (class, original transfer syntax), plus an uncompressed one per class."""
    contexts: list[tuple[str, list[str]]] = []
    seen: set[tuple[str, str]] = set()
    for o in batch:
        if (o.sop_class, o.transfer_syntax) not in seen and o.transfer_syntax not in (ExplicitVRLittleEndian,
                                                                                      ImplicitVRLittleEndian):
            seen.add((o.sop_class, o.transfer_syntax))
            contexts.append((o.sop_class, [o.transfer_syntax]))
        if (o.sop_class, "") not in seen:
            seen.add((o.sop_class, ""))
            contexts.append((o.sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian]))
    return contexts


def _batches(items: Sequence[_Outgoing]) -> list[list[_Outgoing]]:
    """Split so that no association proposes more than MAX_CONTEXTS presentation contexts."""
    batches: list[list[_Outgoing]] = []
    current: list[_Outgoing] = []
    for o in items:
        if current and len(_store_contexts(current + [o])) > MAX_CONTEXTS:
            batches.append(current)
            current = []
        current.append(o)
    if current:
        batches.append(current)
    return batches


def _checked_uid(value: str, what: str) -> str:
    try:
        return check_uid(value, what)
    except ValueError as exc:
        raise PacsError(str(exc)[:1].upper() + str(exc)[1:] + ".") from None
