"""Errors of PACS exchange; every ``str()`` is one sentence for the user, without patient data.

Raised where the problem is detected (the association, the HTTP request, the settings file) and
turned into a message at the edge: a dialog in the GUI, one line and exit status 2 on the command
line.
"""
from __future__ import annotations

__all__ = [
    "PacsError",
    "NodeSettingsError",
    "NodeUnreachableError",
    "AssociationRejectedError",
    "PacsTimeoutError",
    "PacsProtocolError",
    "StudyNotFoundError",
    "RetrieveFailedError",
]


class PacsError(Exception):
    """Anything that went wrong talking to a PACS; ``str()`` is a sentence for the user."""


class NodeSettingsError(PacsError):
    """The node settings file, or a node given on the command line, is not usable."""


class NodeUnreachableError(PacsError):
    """Nothing answers at the node's address (refused, unknown host, no route, TLS failure)."""


class AssociationRejectedError(PacsError):
    """The PACS answered but refused the association (unknown AE title, busy, no common service)."""


class PacsTimeoutError(PacsError):
    """The PACS stopped answering within the time allowed."""


class PacsProtocolError(PacsError):
    """The PACS answered something this program cannot use (an error status, a bad response)."""


class StudyNotFoundError(PacsError):
    """The PACS holds no study (or series) with the UID asked for."""


class RetrieveFailedError(PacsError):
    """A retrieve ended without any instance received."""
