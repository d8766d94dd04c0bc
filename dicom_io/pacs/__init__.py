"""PACS exchange: named nodes, DICOM networking (DIMSE) and DICOMweb. No Qt.

>>> from dicom_io.pacs import DimseNode, StudyQuery, open_client      # doctest: +SKIP
>>> client = open_client(DimseNode("10.1.2.3", 104, "PACS"))          # doctest: +SKIP
>>> studies = client.find_studies(StudyQuery(patient_id="123", modalities=("CR", "DX")))  # doctest: +SKIP
>>> result = client.retrieve(studies[0].study_uid, "films/", progress=print, cancel=stop.is_set)  # doctest: +SKIP

Both clients offer ``echo()``, ``find_studies(query)``, ``find_series(study_uid)``,
``retrieve(study_uid, out_dir, series_uid=None, progress=None, cancel=None)`` and
``store(files_or_datasets, progress=None, cancel=None)``. They are meant to be called from a
worker thread: ``progress`` is called on that thread, ``cancel`` is polled there. Every failure is
a :class:`PacsError` whose ``str()`` is a sentence without patient data.
"""
from __future__ import annotations

from typing import Union

from .dimse import DimseClient
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
    check_date_range,
    check_uid,
)
from .nodes import (
    DEFAULT_CALLING_AET,
    DEFAULT_STORE_PORT,
    DimseNode,
    Node,
    WebNode,
    check_aet,
    load_nodes,
    node_from_dict,
    node_to_dict,
    save_nodes,
)
from .web import WebClient

PacsClient = Union[DimseClient, WebClient]


def open_client(node: Node) -> PacsClient:
    """The client for a node: DIMSE or DICOMweb. Opens no connection yet."""
    if isinstance(node, WebNode):
        return WebClient(node)
    return DimseClient(node)


__all__ = [
    "AssociationRejectedError",
    "CancelCheck",
    "DEFAULT_CALLING_AET",
    "DEFAULT_STORE_PORT",
    "DimseClient",
    "DimseNode",
    "Node",
    "NodeSettingsError",
    "NodeUnreachableError",
    "PacsClient",
    "PacsError",
    "PacsProtocolError",
    "PacsTimeoutError",
    "Progress",
    "ProgressCallback",
    "RetrieveFailedError",
    "RetrieveResult",
    "Series",
    "StoreOutcome",
    "StoreResult",
    "Study",
    "StudyNotFoundError",
    "StudyQuery",
    "WebClient",
    "WebNode",
    "check_aet",
    "check_date_range",
    "check_uid",
    "load_nodes",
    "node_from_dict",
    "node_to_dict",
    "open_client",
    "save_nodes",
]
