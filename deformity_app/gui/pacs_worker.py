"""PACS work off the GUI thread: echo, find, retrieve and store run on a thread pool of their own.

A task is a plain function ``fn(progress, cancelled) -> result``: `progress` takes a
:class:`dicom_io.pacs.Progress` (it is emitted to the GUI thread as a signal), `cancelled()` says
whether the user asked to stop (pass it to the client's ``cancel=``). The `done(result, error,
cancelled)` callback runs on the GUI thread; `error` is the sentence to show (a PacsError's
``str()``, a :class:`TaskError`'s, or a short phrase for anything unexpected), never a traceback.

The pool is separate from Qt's global pool so that a PACS that takes its time (a timeout is 30 s
by default) never delays the decoding of a film. A search that waits on a silent PACS cannot be
interrupted (the client has no cancel for it), so the browser lets a new one start beside it:
the pool has room for a few such waits before anything queues.

Starting a runner quiets pynetdicom and dicomweb_client as the command line does: pynetdicom
writes every C-FIND identifier (patient names, IDs, accession numbers, birth dates) to the log at
INFO, in a layout the log's redaction does not recognise; dicomweb_client and urllib3 write the
QIDO-RS URLs, whose query holds the patient's name or ID, at DEBUG.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

__all__ = ["PacsRunner", "PacsTask", "TaskError", "quiet_libraries"]

#: Loggers of the network libraries and the level below which they are silenced.
QUIET_LOGGERS = {"pynetdicom": logging.CRITICAL, "dicomweb_client": logging.ERROR, "urllib3": logging.WARNING}

ProgressFn = Callable[[Any], None]
TaskFn = Callable[[ProgressFn, Callable[[], bool]], Any]
DoneFn = Callable[[Any, str, bool], None]


def quiet_libraries() -> None:
    """Keep the network libraries' dumps of datasets and queries (patient data) out of the log."""
    for name, level in QUIET_LOGGERS.items():
        logger = logging.getLogger(name)
        if logger.level < level:
            logger.setLevel(level)


class TaskError(Exception):
    """A refusal found inside a task; ``str()`` is the sentence shown to the user."""


class _Signals(QObject):
    progress = Signal(object)  # dicom_io.pacs.Progress
    finished = Signal(object, str, bool)  # (result, error sentence, cancelled)


class PacsTask(QRunnable):
    """One PACS operation on a worker thread; :meth:`cancel` asks it to stop between instances."""

    def __init__(self, fn: TaskFn, what: str = "") -> None:
        super().__init__()
        self.fn = fn
        self.what = what
        self.signals = _Signals()
        self._cancel = threading.Event()
        self.done = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        from dicom_io.pacs import PacsError

        try:
            result = self.fn(self.signals.progress.emit, self._cancel.is_set)
        except (PacsError, TaskError) as exc:
            log.info("%s failed: %s", self.what or "PACS task", type(exc).__name__)
            self._finish(None, str(exc), self.cancelled)
        except OSError as exc:
            self._finish(None, f"A file could not be read or written ({exc.strerror or exc}).", self.cancelled)
        except Exception as exc:
            log.exception("unexpected error in %s", self.what or "a PACS task")
            self._finish(None, f"The {self.what or 'operation'} stopped on an unexpected error ({type(exc).__name__}); "
                               "the log file has the details.", self.cancelled)
        else:
            self._finish(result, "", bool(getattr(result, "cancelled", False)) or self.cancelled)

    def _finish(self, result: Any, error: str, cancelled: bool) -> None:
        self.done.set()
        self.signals.finished.emit(result, error, cancelled)


class PacsRunner(QObject):
    """Starts PACS tasks on its own thread pool and hands their outcome back on the GUI thread."""

    def __init__(self, parent: QObject | None = None, threads: int = 8) -> None:
        super().__init__(parent)
        quiet_libraries()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self.running: set[PacsTask] = set()

    def start(self, fn: TaskFn, done: DoneFn, progress: ProgressFn | None = None, what: str = "") -> PacsTask:
        """Run `fn` on a worker thread; `done` and `progress` are called on the GUI thread."""
        task = PacsTask(fn, what)
        self.running.add(task)

        def finished(result: Any, error: str, cancelled: bool) -> None:
            self.running.discard(task)
            if shiboken6.isValid(self):
                done(result, error, cancelled)

        def progressed(value: Any) -> None:
            if progress is not None and task in self.running and shiboken6.isValid(self):
                progress(value)

        task.signals.finished.connect(finished)
        task.signals.progress.connect(progressed)
        self.pool.start(task)
        return task

    @property
    def busy(self) -> bool:
        return bool(self.running)

    def cancel_all(self) -> None:
        for task in list(self.running):
            task.cancel()

    def wait(self, msecs: int = -1) -> bool:
        """Wait for the worker threads (they stop at the PACS timeout at worst); True when all are done."""
        return self.pool.waitForDone(msecs)
