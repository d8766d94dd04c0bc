"""The log: where it is, how it rotates, that no patient name or ID reaches it; the crash handler and dialog."""
from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from deformity_app import logs
from tests.conftest import TEST_DATA

NAME = "Testperson^Johanna^Maria"
PATIENT_ID = "PID-77881"
BIRTH = "19740316"


@pytest.fixture(autouse=True)
def _clean_logging(monkeypatch):
    """Each test starts without our handlers and remembered patients, and leaves none behind."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logs._OwnHandler)]:
        root.removeHandler(handler)
        handler.close()
    logging.captureWarnings(False)
    logs.forget_patients()


def _own_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, logs._OwnHandler)]


def _file_handler() -> logging.handlers.RotatingFileHandler:
    [handler] = [h for h in _own_handlers() if isinstance(h, logging.handlers.RotatingFileHandler)]
    return handler


def _flush() -> None:
    for handler in _own_handlers():
        handler.flush()


def _write_film(path: Path, name: str = NAME, patient_id: str = PATIENT_ID) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = name, patient_id, BIRTH
    ds.AccessionNumber = "ACC99123"
    ds.Modality = "CR"
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 8, 8, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.arange(64, dtype="<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


# --- where, and how it rotates ------------------------------------------------------------------------


def test_log_file_in_the_users_log_folder_with_rotation(_isolated_user_dirs):
    path = logs.setup_logging()
    assert path == _isolated_user_dirs / "log" / logs.LOG_NAME
    handler = _file_handler()
    assert Path(handler.baseFilename) == path
    assert handler.maxBytes == logs.MAX_BYTES == 2_000_000
    assert handler.backupCount == logs.BACKUP_COUNT == 5
    assert handler.encoding == "utf-8"
    logging.getLogger("deformity_app.test").info("hello from the test")
    _flush()
    assert "hello from the test" in path.read_text(encoding="utf-8")


def test_rotation_keeps_a_bounded_number_of_files(monkeypatch, _isolated_user_dirs):
    monkeypatch.setattr(logs, "MAX_BYTES", 2000)
    path = logs.setup_logging()
    log = logging.getLogger("deformity_app.test")
    for i in range(400):
        log.info("line %d %s", i, "x" * 80)
    _flush()
    files = sorted(p.name for p in path.parent.glob(logs.LOG_NAME + "*"))
    assert files == [logs.LOG_NAME] + [f"{logs.LOG_NAME}.{n}" for n in range(1, logs.BACKUP_COUNT + 1)]
    assert all(p.stat().st_size <= 2200 for p in path.parent.glob(logs.LOG_NAME + "*"))
    assert "line 399" in path.read_text(encoding="utf-8")


def test_setting_up_twice_replaces_the_handlers():
    logs.setup_logging()
    logs.setup_logging()
    kinds = sorted(type(h).__name__ for h in _own_handlers())
    assert kinds == ["_Console", "_RotatingFile"]


def test_an_unwritable_log_folder_leaves_the_console(monkeypatch):
    def refuse():
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(logs, "log_file", refuse)
    assert logs.setup_logging() is None
    assert [type(h).__name__ for h in _own_handlers()] == ["_Console"]


def test_debug_of_our_packages_reaches_the_file_only(capsys):
    path = logs.setup_logging()
    logging.getLogger("deformity_app.cli").debug("internal error detail")
    logging.getLogger("deformity_app.cli").warning("a warning for the user")
    logging.getLogger("some.library").debug("library chatter")
    _flush()
    text = path.read_text(encoding="utf-8")
    assert "internal error detail" in text and "library chatter" not in text
    err = capsys.readouterr().err
    assert "a warning for the user" in err and "internal error detail" not in err


# --- no patient data ---------------------------------------------------------------------------------------


def test_a_patient_name_from_a_films_metadata_is_redacted(tmp_path, capsys):
    from dicom_io.film import open_film

    film = open_film(_write_film(tmp_path / "film.dcm"))
    assert film.metadata.patient_name == NAME
    path = logs.setup_logging()
    logs.remember_patient(film.metadata)
    log = logging.getLogger("deformity_app.test")
    log.warning("opened the film of %s (%s), born %s", film.metadata.patient_name, film.metadata.patient_id,
                film.metadata.birth_date)
    log.info("Johanna Testperson's knee; TESTPERSON, JOHANNA in the header; accession ACC99123")
    log.info("a name alone: testperson")
    _flush()
    text = path.read_text(encoding="utf-8") + capsys.readouterr().err
    for secret in ("Testperson", "TESTPERSON", "testperson", "Johanna", "JOHANNA", PATIENT_ID, BIRTH, "ACC99123"):
        assert secret not in text, secret
    assert text.count(logs.REDACTED) >= 8
    assert "opened the film of" in text and "knee" in text  # the rest of the message stays


def test_a_japanese_name_from_a_clinic_file_is_redacted():
    from dicom_io.film import read_header

    metadata = read_header(TEST_DATA / "chrJapMulti.dcm").metadata
    family, given = metadata.patient_name.split("^")[:2]
    assert not family.isascii()
    logs.remember_patient(metadata)
    redacted = logs.redact(f"patient {family}{given}, {given} {family}, header {metadata.patient_name}")
    assert family not in redacted and given not in redacted
    assert metadata.patient_id not in logs.redact(f"id {metadata.patient_id}")


@pytest.mark.parametrize("message, secret", [
    ("PatientName='DOE^JOHN' rows=8", "DOE"),
    ("opened DOE^JANE from the CD", "JANE"),
    ("(0010,0010) Patient's Name                      PN: 'Smith Anne'", "Smith"),
    ("(0010,0020) Patient ID                          LO: 'X99887'", "X99887"),
    ("FilmMetadata(patient_name='Anne Smith', patient_id='445566', birth_date='19700203', sex='F')", "445566"),
    ("patient_id: 445566", "445566"),
    ("Accession Number = ACC-12", "ACC-12"),
    # pynetdicom's dump of a C-FIND identifier
    ("(0010,0020) LO [SEVERAL-1]                              #  10, 1 PatientID", "SEVERAL-1"),
    ("(0008,0050) SH [FUJI95706]                              #  10, 1 AccessionNumber", "FUJI95706"),
    ("(0010,0010) PN [Smith Anne]                             #  10, 1 PatientName", "Smith"),
])
def test_patient_fields_are_redacted_without_knowing_the_patient(message, secret):
    assert secret not in logs.redact(message)
    assert logs.REDACTED in logs.redact(message)


def test_ordinary_messages_are_left_alone():
    logs.remember_patient({"patient_name": "Li^Ann", "patient_id": "12"})
    for message in ("window 400/40 on 2 films", "ANNOTATION layer", "opened 12345.dcm", "MPTA 82.0 deg"):
        assert logs.redact(message) == message


def test_tracebacks_are_redacted():
    path = logs.setup_logging()
    logs.remember_patient({"patient_name": NAME, "patient_id": PATIENT_ID})
    try:
        raise ValueError(f"cannot parse {NAME} / {PATIENT_ID}")
    except ValueError:
        logging.getLogger("deformity_app.test").exception("failed for Johanna")
    _flush()
    text = path.read_text(encoding="utf-8")
    assert "Traceback" in text and "ValueError: cannot parse" in text
    assert "Johanna" not in text and PATIENT_ID not in text


def test_pydicom_warnings_do_not_quote_values():
    path = logs.setup_logging()
    import warnings

    warnings.warn_explicit("Invalid value for VR DA: '19740316'", UserWarning, "pydicom/valuerep.py", 1)
    _flush()
    text = path.read_text(encoding="utf-8")
    assert "Invalid value for VR DA" in text and "19740316" not in text


# --- unhandled exceptions ----------------------------------------------------------------------------------


def test_the_excepthook_logs_redacted_and_calls_the_dialog(_isolated_user_dirs):
    path = logs.setup_logging()
    shown = []
    logs.install_excepthook(lambda summary, details: shown.append((summary, details)))
    logs.remember_patient({"patient_name": NAME})
    try:
        raise RuntimeError(f"boom on {NAME}")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    _flush()
    [(summary, details)] = shown
    assert summary == f"RuntimeError: boom on {logs.REDACTED}"
    assert "Traceback" in details and "Testperson" not in details
    text = path.read_text(encoding="utf-8")
    assert "unhandled exception in the main thread" in text and "Testperson" not in text


def test_exceptions_in_threads_are_logged():
    path = logs.setup_logging()
    shown = []
    logs.install_excepthook(lambda summary, details: shown.append(summary))

    def work():
        raise KeyError("lost")

    thread = threading.Thread(target=work, name="loader")
    thread.start()
    thread.join()
    _flush()
    assert shown == ["KeyError: 'lost'"]
    assert "unhandled exception in thread loader" in path.read_text(encoding="utf-8")


def test_a_failing_dialog_does_not_raise():
    logs.setup_logging()

    def broken(_summary, _details):
        raise OSError("no display")

    logs.install_excepthook(broken)
    try:
        raise ValueError("x")
    except ValueError:
        sys.excepthook(*sys.exc_info())  # must not raise


# --- the GUI's crash dialog -----------------------------------------------------------------------------------


def test_a_gui_error_saves_the_work_and_shows_a_copyable_report(window, qtbot, monkeypatch, small_demo):
    from PySide6.QtWidgets import QApplication

    from deformity_app.gui import app as gui_app
    from tests.app.conftest import open_and_wait

    open_and_wait(qtbot, window, small_demo[0])
    logs.setup_logging()
    window.doc.undo_stack.resetClean()  # unsaved work (the stack is no longer at its clean state)
    assert window.doc.modified
    window.recovery.remove()

    dialogs = []

    def fake_exec(dialog):
        dialogs.append(dialog)
        dialog.copy_report()
        return 0

    monkeypatch.setattr(gui_app.CrashDialog, "exec", fake_exec)
    gui_app.install_crash_dialog()
    logs.remember_patient({"patient_name": NAME})
    try:
        raise RuntimeError(f"paint failed for {NAME}")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())

    [dialog] = dialogs
    assert window.recovery.path.is_file()  # the work was saved before the dialog
    assert "saved for recovery" in dialog.work_note
    report = QApplication.clipboard().text()
    assert report == dialog.report
    assert "RuntimeError: paint failed for [redacted]" in report and "Testperson" not in report
    assert "Log: " in report and logs.LOG_NAME in report
    assert not dialog.quit_requested
    window.recovery.remove()


def test_errors_in_worker_threads_reach_the_dialog_in_the_gui_thread(qtbot, monkeypatch):
    from PySide6.QtCore import QRunnable, QThread, QThreadPool
    from PySide6.QtWidgets import QApplication

    from deformity_app.gui import app as gui_app

    logs.setup_logging()
    threads = []
    monkeypatch.setattr(gui_app.CrashDialog, "exec",
                        lambda dialog: threads.append(QThread.currentThread() is QApplication.instance().thread()))
    gui_app.install_crash_dialog()

    class Boom(QRunnable):
        def run(self):
            raise ValueError("in a worker")

    QThreadPool.globalInstance().start(Boom())
    qtbot.waitUntil(lambda: bool(threads), timeout=5000)
    assert threads == [True]


def test_the_number_of_crash_dialogs_is_bounded(qtbot, monkeypatch):
    from deformity_app.gui import app as gui_app

    logs.setup_logging()
    count = []
    monkeypatch.setattr(gui_app.CrashDialog, "exec", lambda dialog: count.append(1))
    gui_app.install_crash_dialog()
    for _ in range(gui_app.MAX_CRASH_DIALOGS + 3):
        try:
            raise ValueError("again")
        except ValueError:
            sys.excepthook(*sys.exc_info())
    assert len(count) == gui_app.MAX_CRASH_DIALOGS


def test_quit_in_the_crash_dialog_ends_the_application(qtbot, monkeypatch):
    from PySide6.QtWidgets import QApplication

    from deformity_app.gui import app as gui_app

    logs.setup_logging()
    exits = []
    monkeypatch.setattr(QApplication.instance(), "exit", lambda code=0: exits.append(code), raising=False)

    def choose_quit(dialog):
        dialog.quit_button.click()
        return 0

    monkeypatch.setattr(gui_app.CrashDialog, "exec", choose_quit)
    gui_app.install_crash_dialog()
    try:
        raise ValueError("fatal")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    assert exits == [gui_app.EXIT_CRASHED]


def test_networking_libraries_log_only_their_errors_after_setup():
    """pynetdicom logs every query identifier at INFO, urllib3 and dicomweb-client the web query
    URLs (patient IDs in them) at DEBUG: whatever part of the program sets the log up, they are quiet."""
    import logging

    logs.setup_logging(to_file=False)
    assert not logging.getLogger("pynetdicom").isEnabledFor(logging.ERROR)
    assert not logging.getLogger("pynetdicom.dimse").isEnabledFor(logging.INFO)
    assert not logging.getLogger("dicomweb_client").isEnabledFor(logging.INFO)
    assert not logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("urllib3").isEnabledFor(logging.WARNING)
