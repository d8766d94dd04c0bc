"""Keep patient data out of the log: pydicom's warnings quote element values.

pydicom logs (logger ``"pydicom"``) messages such as ``Invalid value for VR DA: '1970-02-03'``
when it meets a malformed element, and a malformed birth date or name is patient data. Since
``dicom_io`` is the part of the project that makes pydicom read files, it installs a filter on
pydicom's loggers that keeps the gist of each message and withholds the quoted value. The
records still reach whatever handlers the application configured.
"""

from __future__ import annotations

import logging

__all__ = ["WithholdValues", "protect_pydicom_logs"]

_PYDICOM_LOGGERS = ("pydicom", "pydicom.pixels.decoders.base", "pydicom.pixels.utils")


class WithholdValues(logging.Filter):
    """Cut a record's text at the first quote or colon, where pydicom starts quoting values."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format is withheld entirely
            message = ""
        cuts = [i for i in (message.find(":"), message.find("'"), message.find('"')) if i >= 0]
        if cuts:
            message = message[: min(cuts)].rstrip() + " [value withheld]"
        record.msg, record.args = message, ()
        record.exc_info, record.exc_text = None, None  # tracebacks quote values too
        return True


def protect_pydicom_logs() -> None:
    """Install :class:`WithholdValues` on pydicom's loggers (idempotent)."""
    for name in _PYDICOM_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, WithholdValues) for f in logger.filters):
            logger.addFilter(WithholdValues())
