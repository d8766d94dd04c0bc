"""The application's log: a rotating file in the user's log folder, warnings on the console, no
patient data, and a last-resort handler for exceptions nobody caught.

The log is for whoever supports the program (a clinic's IT, a developer): what was opened, what
failed and why, never who the patient is. Library code already avoids patient data (style.md);
:class:`RedactPatientData` is the safety net for what slips through anyway: a patient's name, ID,
birth date or accession number the application has seen in a film's header (see
:func:`remember_patient`), DICOM person names (``FAMILY^GIVEN``), and values written next to a
patient field (``PatientName='...'``, ``(0010,0020) ... LO: '...'``) are replaced by
``[redacted]`` in the message and in tracebacks, before any handler writes them.

    >>> path = setup_logging()                  # doctest: +SKIP
    >>> remember_patient(film.metadata)          # doctest: +SKIP
"""
from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import platform
import re
import sys
import threading
import traceback
from collections import OrderedDict
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Mapping

__all__ = [
    "BACKUP_COUNT",
    "LOG_NAME",
    "MAX_BYTES",
    "REDACTED",
    "RedactPatientData",
    "current_log_file",
    "describe_runtime",
    "enable_faulthandler",
    "forget_patients",
    "format_exception",
    "install_excepthook",
    "log_file",
    "redact",
    "remember_patient",
    "setup_logging",
]

LOG_NAME = "deformity-app.log"
FAULT_LOG_NAME = "faults.log"
#: One log file is at most 2 MB; five older ones are kept (deformity-app.log.1 ... .5): 12 MB at most.
MAX_BYTES = 2_000_000
BACKUP_COUNT = 5
REDACTED = "[redacted]"

FILE_FORMAT = "%(asctime)s %(levelname)-8s %(name)s [%(threadName)s] %(message)s"
CONSOLE_FORMAT = "%(levelname)s %(name)s: %(message)s"
#: Our own packages log at DEBUG into the file (the CLI's "internal error" tracebacks are DEBUG);
#: third-party libraries from INFO up.
OWN_LOGGERS = ("deformity_app", "dicom_io", "measurements")

log = logging.getLogger(__name__)


# --- redaction ---------------------------------------------------------------------------------------

# DICOM keywords, our FilmMetadata field names and the pydicom element names of patient data.
_FIELDS = (
    r"Patient'?s?\s*Name|PatientName|patient_name|Patient\s*ID|PatientID|patient_id|"
    r"Other\s*Patient\s*(?:IDs|Names)|OtherPatient(?:IDs|Names)|"
    r"Patient'?s?\s*Birth\s*Date|PatientBirthDate|birth_date|birth\s*date|"
    r"Accession\s*Number|AccessionNumber|accession_number|"
    r"Patient'?s?\s*Address|PatientAddress|Patient'?s?\s*Mother'?s?\s*Birth\s*Name|PatientMotherBirthName|"
    r"Responsible\s*Person|ResponsiblePerson|Issuer\s*of\s*Patient\s*ID|IssuerOfPatientID"
)
# "PatientName='DOE^JOHN'", "patient_id: 123", "Patient's Name  PN: 'Doe'", "(0010,0010) ... PN: 'Doe'"
_FIELD_VALUE = re.compile(
    rf"(?P<key>\b(?:{_FIELDS})\b(?:\s+[A-Z]{{2}})?\s*[:=]\s*)"
    r"(?P<value>\[redacted\]|'[^'\n]*'|\"[^\"\n]*\"|[^\s,;)\]}]+(?:[ ^][^\s,;)\]}^:=]+)*)",
    re.IGNORECASE,
)
# pydicom's str() of an element: "(0010,0010) Patient's Name   PN: 'Doe^John'" (group 0010 is the patient)
_TAG_VALUE = re.compile(r"(?P<key>\(0010,\s*[0-9A-Fa-f]{4}\)[^\n:]*:\s*)(?P<value>'[^'\n]*'|\"[^\"\n]*\"|[^\n,;]+)")
# pynetdicom's dump of a C-FIND identifier: "(0010,0020) LO [ID-1]", "(0008,0050) SH [ACC]" (the patient
# group, the accession number, the referring and requesting physicians)
_DUMP_VALUE = re.compile(r"(?P<key>\((?:0010,\s*[0-9A-Fa-f]{4}|0008,\s*0050|0008,\s*0090|0032,\s*1032)\)\s+"
                         r"[A-Z]{2}\s+\[)(?P<value>[^\]\n]*)(?=\])")
# A DICOM person name: components joined by carets ("DOE^JOHN", "Doe^John^^Dr"), whatever it stands next to.
_CARET_NAME = re.compile(r"[^\s'\"^=,;:()\[\]{}<>/\\]*\^[^\s'\"=,;:()\[\]{}<>/\\]*")

_MIN_PART = 3  # name parts shorter than this are redacted only inside the whole name
_MAX_KNOWN = 500  # remembered values (oldest forgotten first)

_known_lock = threading.Lock()
_known: "OrderedDict[str, None]" = OrderedDict()
_known_pattern: re.Pattern[str] | None = None


def _name_forms(person_name: str) -> set[str]:
    """The ways a DICOM person name may be written in a message: as stored, per "=" group, each
    component, "GIVEN FAMILY", "FAMILY GIVEN" and "FAMILY, GIVEN" (the report's form)."""
    forms = {person_name}
    for group in person_name.split("="):
        parts = [p.strip() for p in group.split("^") if p.strip()]
        if not parts:
            continue
        forms.add(group)
        forms.update(p for p in parts if len(p) >= _MIN_PART or not p.isascii())
        if len(parts) >= 2:
            family, given = parts[0], parts[1]
            forms.update({f"{given} {family}", f"{family} {given}", f"{family}, {given}", " ".join(parts)})
        for part in parts:  # multi-word family names: "VAN DER BERG"
            forms.update(w for w in part.split() if len(w) >= _MIN_PART)
    return {f.strip() for f in forms if f.strip()}


def _date_forms(date: str) -> set[str]:
    digits = re.sub(r"\D", "", date)
    if len(digits) != 8:
        return {date} if len(date) >= _MIN_PART else set()
    y, m, d = digits[:4], digits[4:6], digits[6:]
    return {digits, f"{y}-{m}-{d}", f"{y}.{m}.{d}", f"{d}.{m}.{y}", f"{d}/{m}/{y}", f"{m}/{d}/{y}"}


def remember_patient(metadata: Any) -> None:
    """Redact this patient's name, ID, birth date and accession number from every later log record.

    `metadata` is a `dicom_io` ``FilmMetadata`` (or anything with those attributes), or a mapping
    with the same keys. Call it as soon as a film's header has been read.
    """
    def get(name: str) -> str:
        value = metadata.get(name, "") if isinstance(metadata, Mapping) else getattr(metadata, name, "")
        return str(value or "").strip()

    values: set[str] = set()
    name = get("patient_name")
    if name:
        values |= _name_forms(name)
    for key in ("patient_id", "accession_number"):
        value = get(key)
        if value:
            values.add(value)
    birth = get("birth_date")
    if birth:
        values |= _date_forms(birth)
    _remember(values)


def _remember(values: set[str]) -> None:
    global _known_pattern
    values = {v for v in values if v and v != REDACTED}
    if not values:
        return
    with _known_lock:
        for value in values:
            _known.pop(value, None)
            _known[value] = None
        while len(_known) > _MAX_KNOWN:
            _known.popitem(last=False)
        _known_pattern = _compile_known(list(_known))


def forget_patients() -> None:
    """Forget every remembered patient (the patterns for person names and fields stay)."""
    global _known_pattern
    with _known_lock:
        _known.clear()
        _known_pattern = None


def _compile_known(values: list[str]) -> re.Pattern[str] | None:
    if not values:
        return None
    alternatives = []
    for value in sorted(values, key=len, reverse=True):  # longest first: the whole name before its parts
        escaped = re.escape(value)
        if value.isascii():
            # whole words only, so that "ANN" does not eat "ANNOTATION" and an ID "123" not "41234"
            alternatives.append(rf"(?<![0-9A-Za-z]){escaped}(?![0-9A-Za-z])")
        else:
            alternatives.append(escaped)  # Japanese, Chinese, Korean names have no word boundaries
    return re.compile("|".join(alternatives), re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with remembered patient values, DICOM person names and patient fields' values replaced."""
    if not text:
        return text
    with _known_lock:
        known = _known_pattern
    if known is not None:
        text = known.sub(REDACTED, text)
    text = _DUMP_VALUE.sub(lambda m: m.group("key") + REDACTED if m.group("value") else m.group(0), text)
    text = _TAG_VALUE.sub(lambda m: m.group("key") + REDACTED, text)
    text = _FIELD_VALUE.sub(lambda m: m.group("key") + REDACTED if m.group("value") != REDACTED else m.group(0), text)
    text = _CARET_NAME.sub(lambda m: REDACTED if m.group(0).strip("^") else m.group(0), text)
    return text


class RedactPatientData(logging.Filter):
    """A handler filter that redacts a record's message, traceback and stack before it is written.

    The record itself is changed (its message is formatted once and its arguments dropped), so
    every handler after this one sees the redacted text too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_deformity_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is not written as is
            message = f"[a message that could not be formatted: {record.msg.__class__.__name__}]"
        if record.name == "py.warnings" and ("pydicom" in message or "VR " in message):
            # pydicom's warnings quote the offending element value, which may be a name or a date
            message = re.sub(r"'[^'\n]*'", "'[value withheld]'", message)
        record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._deformity_redacted = True  # type: ignore[attr-defined]
        return True


# --- setup ----------------------------------------------------------------------------------------------


def log_file() -> Path:
    """The current log file (in ``paths.user_dir("log")``; the folder is created when missing)."""
    from .paths import user_dir

    return user_dir("log") / LOG_NAME


class _OwnHandler:
    """Marks the handlers setup_logging installed, so that a second call replaces them."""


class _RotatingFile(logging.handlers.RotatingFileHandler, _OwnHandler):
    pass


class _Console(logging.StreamHandler, _OwnHandler):
    pass


def current_log_file() -> Path | None:
    """The file the handler of :func:`setup_logging` writes to, or None (no file logging)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _RotatingFile):
            return Path(handler.baseFilename)
    return None


QUIET_LIBRARIES = {"pynetdicom": logging.CRITICAL, "dicomweb_client": logging.ERROR, "urllib3": logging.WARNING}


def setup_logging(*, console_level: int = logging.WARNING, to_file: bool = True,
                  file_level: int = logging.DEBUG) -> Path | None:
    """Send log records to a rotating file in the user's log folder and warnings to standard error.

    Every handler redacts patient data (:class:`RedactPatientData`); Python warnings are logged
    too. Calling it again replaces the handlers of the previous call (tests, the GUI after the
    command line). Returns the log file, or None when the log folder cannot be written (the
    program then logs to the console only; it never fails to start because of its log).
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _OwnHandler)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.INFO)
    for name in OWN_LOGGERS:
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.DEBUG)
    # Networking libraries log the identifiers of queries and the URLs of web queries (patient IDs in
    # both) at INFO and DEBUG: only their errors reach the log, whatever part of the program runs.
    for name, level in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(level)

    redactor = RedactPatientData()
    if sys.stderr is not None:  # None in a windowed build on Windows
        console = _Console(sys.stderr)
        console.setLevel(console_level)
        console.setFormatter(logging.Formatter(CONSOLE_FORMAT))
        console.addFilter(redactor)
        root.addHandler(console)

    path: Path | None = None
    if to_file:
        try:
            path = log_file()
            handler = _RotatingFile(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True)
        except OSError as exc:
            path = None
            log.warning("the log file cannot be written (%s); logging to the console only", exc.strerror or exc)
        else:
            handler.setLevel(file_level)
            handler.setFormatter(logging.Formatter(FILE_FORMAT))
            handler.addFilter(redactor)
            root.addHandler(handler)
    logging.captureWarnings(True)
    return path


def describe_runtime() -> str:
    """One line for the top of a session's log: versions and system, no user or patient data."""
    from . import __version__

    frozen = "frozen" if getattr(sys, "frozen", False) else "source"
    return (f"deformity-app {__version__} ({frozen}) on Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()} {platform.machine()}")


def enable_faulthandler() -> Path | None:
    """Write the Python stacks of a hard crash (a segmentation fault in Qt or a decoder) to
    ``faults.log`` beside the log. Stacks name files and functions only, never data."""
    if faulthandler.is_enabled():  # pytest, or a developer's -X faulthandler
        return None
    try:
        from .paths import user_dir

        path = user_dir("log") / FAULT_LOG_NAME
        stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - must stay open for the process
    except OSError:
        return None
    global _fault_stream
    _fault_stream = stream
    faulthandler.enable(stream)
    return path


_fault_stream = None


# --- unhandled exceptions ---------------------------------------------------------------------------------


def format_exception(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> str:
    """The traceback of an exception as text, redacted."""
    return redact("".join(traceback.format_exception(exc_type, exc, tb)).rstrip("\n"))


def install_excepthook(show: Callable[[str, str], None] | None = None) -> None:
    """Log every exception nobody caught (redacted), in any thread, then call ``show(summary,
    details)`` (the GUI's dialog) when given. `summary` is one redacted line; `details` the
    redacted traceback. A failure of `show` is logged, never raised."""
    crash_log = logging.getLogger("deformity_app.crash")

    def handle(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None, where: str) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        details = format_exception(exc_type, exc, tb)
        crash_log.critical("unhandled exception in %s:\n%s", where, details)
        if show is None:
            return
        summary = redact(f"{exc_type.__name__}: {exc}") if str(exc) else exc_type.__name__
        try:
            show(summary, details)
        except Exception:  # noqa: BLE001 - the crash handler itself must not crash
            crash_log.exception("the crash dialog could not be shown")

    def excepthook(exc_type, exc, tb) -> None:
        name = threading.current_thread().name
        handle(exc_type, exc, tb, "the main thread" if name == "MainThread" else f"thread {name}")

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        handle(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback, f"thread {name}")

    sys.excepthook = excepthook
    threading.excepthook = thread_hook
