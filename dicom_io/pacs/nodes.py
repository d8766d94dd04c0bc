"""Named PACS nodes: the JSON settings file of dicom-exchange.md, read and written.

```json
{"nodes": {
  "radiology": {"kind": "dimse", "host": "10.1.2.3", "port": 104, "called_aet": "PACS",
                "calling_aet": "DEFORMITY", "retrieve": "C-GET"},
  "web": {"kind": "dicomweb", "url": "https://pacs.example/dicom-web"}}}
```

Optional keys: ``store_port`` (C-MOVE: the port of this program's storage SCP, default 11113),
``timeout`` (seconds, default 30). Keys this module does not know are kept as read and written
back. The file's location is chosen by the application (``deformity_app.pacs_cli.nodes_path``):
this package does not know the application's folders.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Union
from urllib.parse import urlparse

from measurements.case import atomic_write_text

from .errors import NodeSettingsError

__all__ = [
    "DimseNode",
    "WebNode",
    "Node",
    "RETRIEVE_METHODS",
    "DEFAULT_CALLING_AET",
    "DEFAULT_STORE_PORT",
    "DEFAULT_TIMEOUT_S",
    "check_aet",
    "node_from_dict",
    "node_to_dict",
    "load_nodes",
    "save_nodes",
]

RETRIEVE_METHODS = ("C-GET", "C-MOVE")
DEFAULT_CALLING_AET = "DEFORMITY"
DEFAULT_STORE_PORT = 11113
DEFAULT_TIMEOUT_S = 30.0


def check_aet(value: Any, what: str = "AE title") -> str:
    """A DICOM AE title: 1 to 16 printable ASCII characters, no backslash, not only spaces."""
    if not isinstance(value, str):
        raise NodeSettingsError(f"The {what} must be text.")
    text = value.strip()
    if not text:
        raise NodeSettingsError(f"The {what} is empty.")
    if len(text) > 16:
        raise NodeSettingsError(f"The {what} {text!r} is longer than 16 characters.")
    if any(not (32 <= ord(c) < 127) or c == "\\" for c in text):
        raise NodeSettingsError(f"The {what} {text!r} may only use printable ASCII characters without a backslash.")
    return text


def _check_port(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise NodeSettingsError(f"The {what} must be a whole number from 1 to 65535 (got {value!r}).")
    return value


def _check_timeout(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
        raise NodeSettingsError(f"The timeout must be a number of seconds above 0 and at most 3600 (got {value!r}).")
    return float(value)


@dataclass(frozen=True, slots=True)
class DimseNode:
    """A PACS reached by DICOM networking (DIMSE): C-ECHO, C-FIND, C-GET/C-MOVE, C-STORE."""

    host: str
    port: int
    called_aet: str
    calling_aet: str = DEFAULT_CALLING_AET
    retrieve: str = "C-GET"
    store_port: int = DEFAULT_STORE_PORT
    timeout_s: float = DEFAULT_TIMEOUT_S
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    kind = "dimse"

    @property
    def label(self) -> str:
        """How the node is named in messages: its name, else ``AET@host:port``."""
        return self.name or f"{self.called_aet}@{self.host}:{self.port}"

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host.strip():
            raise NodeSettingsError("The PACS host name is empty.")
        _check_port(self.port, "PACS port")
        check_aet(self.called_aet, "called AE title (the PACS's)")
        check_aet(self.calling_aet, "calling AE title (this program's)")
        if self.retrieve not in RETRIEVE_METHODS:
            raise NodeSettingsError(f"The retrieve method must be C-GET or C-MOVE (got {self.retrieve!r}).")
        _check_port(self.store_port, "storage port (for C-MOVE)")
        _check_timeout(self.timeout_s)


@dataclass(frozen=True, slots=True)
class WebNode:
    """A PACS reached by DICOMweb: QIDO-RS, WADO-RS, STOW-RS under one base URL."""

    url: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    kind = "dicomweb"

    @property
    def label(self) -> str:
        return self.name or self.url

    def __post_init__(self) -> None:
        parsed = urlparse(self.url if isinstance(self.url, str) else "")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise NodeSettingsError(f"The DICOMweb address {self.url!r} is not an http:// or https:// URL.")
        _check_timeout(self.timeout_s)


Node = Union[DimseNode, WebNode]

_DIMSE_KEYS = {"kind", "host", "port", "called_aet", "calling_aet", "retrieve", "store_port", "timeout"}
_WEB_KEYS = {"kind", "url", "timeout"}


def node_from_dict(name: str, data: Mapping[str, Any]) -> Node:
    """Build a node from its settings object; raises NodeSettingsError naming the node."""
    if not isinstance(data, Mapping):
        raise NodeSettingsError(f"The PACS node {name!r} must be a JSON object.")
    kind = data.get("kind", "dimse" if "host" in data else "dicomweb" if "url" in data else None)
    try:
        if kind == "dimse":
            missing = [k for k in ("host", "port", "called_aet") if k not in data]
            if missing:
                raise NodeSettingsError(f"needs {', '.join(missing)}")
            return DimseNode(
                host=data["host"],
                port=data["port"],
                called_aet=data["called_aet"],
                calling_aet=data.get("calling_aet", DEFAULT_CALLING_AET),
                retrieve=str(data.get("retrieve", "C-GET")).upper(),
                store_port=data.get("store_port", DEFAULT_STORE_PORT),
                timeout_s=data.get("timeout", DEFAULT_TIMEOUT_S),
                name=name,
                extra={k: v for k, v in data.items() if k not in _DIMSE_KEYS},
            )
        if kind == "dicomweb":
            if "url" not in data:
                raise NodeSettingsError("needs url")
            return WebNode(url=data["url"], timeout_s=data.get("timeout", DEFAULT_TIMEOUT_S), name=name,
                           extra={k: v for k, v in data.items() if k not in _WEB_KEYS})
    except NodeSettingsError as exc:
        raise NodeSettingsError(f"The PACS node {name!r} is not usable: {_lower_first(str(exc))}") from None
    raise NodeSettingsError(f"The PACS node {name!r} has an unknown kind {kind!r} (expected dimse or dicomweb).")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def node_to_dict(node: Node) -> dict[str, Any]:
    """The settings object of a node (defaults written out, unknown keys kept)."""
    if isinstance(node, DimseNode):
        out: dict[str, Any] = {"kind": "dimse", "host": node.host, "port": node.port, "called_aet": node.called_aet,
                               "calling_aet": node.calling_aet, "retrieve": node.retrieve}
        if node.retrieve == "C-MOVE" or node.store_port != DEFAULT_STORE_PORT:
            out["store_port"] = node.store_port
    else:
        out = {"kind": "dicomweb", "url": node.url}
    if node.timeout_s != DEFAULT_TIMEOUT_S:
        out["timeout"] = node.timeout_s
    out.update(node.extra)
    return out


def load_nodes(path: str | os.PathLike[str]) -> dict[str, Node]:
    """The nodes of a settings file, by name; an absent file has none. Raises NodeSettingsError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise NodeSettingsError(f"The PACS settings file {path} cannot be read ({getattr(exc, 'strerror', None) or exc}).") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NodeSettingsError(
            f"The PACS settings file {path} is not valid JSON (line {exc.lineno}, column {exc.colno})."
        ) from None
    nodes_data = data.get("nodes", {}) if isinstance(data, dict) else None
    if not isinstance(nodes_data, dict):
        raise NodeSettingsError(f"The PACS settings file {path} must hold an object {{\"nodes\": {{...}}}}.")
    return {str(name): node_from_dict(str(name), value) for name, value in nodes_data.items()}


def save_nodes(path: str | os.PathLike[str], nodes: Mapping[str, Node]) -> None:
    """Write the settings file atomically (a temporary file renamed over the old one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"nodes": {name: node_to_dict(node) for name, node in nodes.items()}}, indent=2) + "\n"
    atomic_write_text(path, text)
