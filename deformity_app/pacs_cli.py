"""The `pacs` and `export` commands (shared/spec/dicom-exchange.md). Qt is never imported.

    deformity-app pacs echo   [NODE OPTIONS]
    deformity-app pacs find   [NODE OPTIONS] [--patient-name P] [--patient-id ID] [--accession A]
                              [--date YYYYMMDD[-YYYYMMDD]] [--modality CR,DX] [--limit N] [--json]
    deformity-app pacs series STUDY_UID [NODE OPTIONS] [--json]
    deformity-app pacs get    STUDY_UID [--series SERIES_UID] --out DIR [NODE OPTIONS] [--json]
    deformity-app pacs store  FILE_OR_DIR... [NODE OPTIONS] [--json]
    deformity-app export CASE.json --out DIR [--sr] [--gsps] [--sc] [--pdf] [--window C,W] [--json]

NODE OPTIONS: ``--node NAME`` (from the settings file :func:`nodes_path`), or ``--host H [--port P]
--called-aet AET [--calling-aet AET] [--retrieve C-GET|C-MOVE] [--store-port P]``, or ``--url
URL``; ``--timeout S``. Given with ``--node``, the direct options override the node's values.
Without any, the only node of the settings file is used.

Refusals as the other commands: one line on standard error, exit status 2, never a traceback or a
patient name in a log. Progress goes to standard error when it is a terminal.

Wiring into ``cli.py``: ``add_pacs_parsers(sub)`` in ``build_parser``, and "pacs", "export" in
``_COMMANDS``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_REFUSED = 2
EXIT_INTERRUPTED = 130

log = logging.getLogger(__name__)

__all__ = [
    "add_pacs_parsers",
    "cmd_pacs_echo",
    "cmd_pacs_find",
    "cmd_pacs_series",
    "cmd_pacs_get",
    "cmd_pacs_store",
    "cmd_export",
    "nodes_path",
    "load_user_nodes",
    "parse_modalities",
    "save_user_nodes",
    "main",
]


class _Refused(Exception):
    """Input the command refuses; `str()` is the line printed."""


# --- settings -----------------------------------------------------------------------------------------


def nodes_path() -> Path:
    """The PACS node settings file: ``pacs.json`` in the user's config folder (platformdirs)."""
    from .paths import user_dir

    return user_dir("config") / "pacs.json"


def load_user_nodes() -> dict[str, Any]:
    """The user's PACS nodes by name (empty when none are set up). Raises NodeSettingsError."""
    from dicom_io.pacs import load_nodes

    return load_nodes(nodes_path())


def save_user_nodes(nodes: dict[str, Any]) -> None:
    """Write the user's PACS nodes (atomically)."""
    from dicom_io.pacs import save_nodes

    save_nodes(nodes_path(), nodes)


def _quiet_libraries() -> None:
    # pynetdicom logs rejections and aborts at ERROR and dumps datasets (with patient names) at
    # DEBUG; our own messages say what happened.
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    logging.getLogger("dicomweb_client").setLevel(logging.ERROR)


def _node_from_args(args: argparse.Namespace):
    """The node the options name: --node (with direct options overriding), --url, --host, or the only one."""
    from dicom_io.pacs import (
        DEFAULT_CALLING_AET,
        DEFAULT_STORE_PORT,
        DimseNode,
        NodeSettingsError,
        WebNode,
    )

    if args.url is not None and args.host is not None:
        raise _Refused("give either --url (DICOMweb) or --host (DIMSE), not both")
    try:
        node = None
        if args.node is not None:
            nodes = load_user_nodes()
            if args.node not in nodes:
                known = ", ".join(sorted(nodes)) or "none"
                raise _Refused(f"no PACS node named {args.node!r} in {nodes_path()} (known: {known})")
            node = nodes[args.node]
        elif args.url is None and args.host is None:
            nodes = load_user_nodes()
            if len(nodes) != 1:
                known = f" (known nodes: {', '.join(sorted(nodes))})" if nodes else " (none is set up)"
                raise _Refused("name a PACS with --node NAME, or give --host and --called-aet, or --url" + known)
            node = next(iter(nodes.values()))
        timeout = {} if args.timeout is None else {"timeout_s": args.timeout}
        if args.url is not None:
            return WebNode(url=args.url, name=getattr(node, "name", ""), **timeout)
        if isinstance(node, WebNode):
            if args.host is not None:
                raise _Refused(f"the node {node.label!r} is a DICOMweb node; --host applies to DIMSE nodes")
            return dataclasses.replace(node, **timeout)
        changes = {k: v for k, v in (("host", args.host), ("port", args.port), ("called_aet", args.called_aet),
                                      ("calling_aet", args.calling_aet), ("retrieve", args.retrieve),
                                      ("store_port", args.store_port)) if v is not None}
        changes.update(timeout)
        if node is not None:
            return dataclasses.replace(node, **changes)
        if "called_aet" not in changes:
            raise _Refused("--host needs --called-aet (the PACS's AE title)")
        return DimseNode(**{"port": 104, "calling_aet": DEFAULT_CALLING_AET, "retrieve": "C-GET",
                            "store_port": DEFAULT_STORE_PORT, **changes})
    except NodeSettingsError as exc:
        raise _Refused(str(exc)) from None


def _add_node_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("PACS node (default: the only node of the settings file)")
    g.add_argument("--node", metavar="NAME", help="a node of the settings file (see 'Nodes' in the docs)")
    g.add_argument("--host", metavar="HOST", help="DIMSE: the PACS's host name or address")
    g.add_argument("--port", type=int, metavar="PORT", help="DIMSE: the PACS's DICOM port (default 104)")
    g.add_argument("--called-aet", metavar="AET", help="DIMSE: the PACS's AE title")
    g.add_argument("--calling-aet", metavar="AET", help="DIMSE: this program's AE title (default DEFORMITY)")
    g.add_argument("--retrieve", choices=("C-GET", "C-MOVE"), type=str.upper,
                   help="DIMSE retrieve method (default C-GET; C-MOVE needs --store-port open to the PACS)")
    g.add_argument("--store-port", type=int, metavar="PORT", help="C-MOVE: the port of this program's storage SCP")
    g.add_argument("--url", metavar="URL", help="DICOMweb: the service's base URL")
    g.add_argument("--timeout", type=float, metavar="S", help="seconds to wait for the PACS (default 30)")


# --- progress and cancellation -------------------------------------------------------------------------


class _Bar:
    """A one-line progress bar on standard error, drawn only on a terminal."""

    def __init__(self, stream: TextIO, what: str) -> None:
        self.stream, self.what = stream, what
        self.enabled = hasattr(stream, "isatty") and stream.isatty()
        self.last = 0.0
        self.drawn = False

    def __call__(self, progress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1 and progress.total != progress.done + progress.failed:
            return
        self.last = now
        width = 30
        fraction = progress.fraction
        if fraction is None:
            bar = "." * width
            count = f"{progress.done}"
        else:
            filled = int(round(fraction * width))
            bar = "#" * filled + "." * (width - filled)
            count = f"{progress.done}/{progress.total}"
        failed = f", {progress.failed} failed" if progress.failed else ""
        self.stream.write(f"\r{self.what} [{bar}] {count}{failed} ")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


class _Interrupt:
    """Ctrl-C during a transfer asks the client to stop between instances (what arrived is kept)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.previous: Any = None

    def __enter__(self) -> Callable[[], bool]:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, lambda *_: self.event.set())
        return self.event.is_set

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _run(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The edge of every command here: refusals and PACS errors become one line and exit 2."""

    def wrapped(args: argparse.Namespace) -> int:
        from dicom_io.pacs import PacsError

        _quiet_libraries()
        try:
            return fn(args)
        except (_Refused, PacsError) as exc:
            print(f"deformity-app: {exc}", file=sys.stderr)
            return EXIT_REFUSED

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped


# --- pacs echo / find / series ----------------------------------------------------------------------------


@_run
def cmd_pacs_echo(args: argparse.Namespace) -> int:
    """C-ECHO (or a QIDO-RS search): exit 0 when the node answers."""
    from dicom_io.pacs import open_client

    node = _node_from_args(args)
    seconds = open_client(node).echo()
    how = "C-ECHO" if node.kind == "dimse" else "DICOMweb search"
    print(f"{node.label} answered ({how}) in {seconds * 1000:.0f} ms")
    return EXIT_OK


def parse_modalities(text: str | None) -> tuple[str, ...]:
    """Modality codes from ``"CR,DX"`` (upper-cased, spaces ignored); ``()`` for none.

    Raises ValueError when a code is not 1 to 16 letters or digits (the GUI's PACS browser shares this).
    """
    if not text:
        return ()
    values = tuple(v.strip().upper() for v in text.split(",") if v.strip())
    bad = [v for v in values if not v.isalnum() or len(v) > 16]
    if bad:
        raise ValueError(f"{text!r}: expected modality codes such as CR,DX")
    return values


def _modalities(text: str | None) -> tuple[str, ...]:
    try:
        return parse_modalities(text)
    except ValueError:
        raise _Refused(f"--modality {text!r}: expected codes such as CR,DX") from None


@_run
def cmd_pacs_find(args: argparse.Namespace) -> int:
    """Study-level search."""
    from dicom_io.pacs import StudyQuery, check_date_range, open_client

    date = ""
    if args.date:
        try:
            date = check_date_range(args.date)
        except ValueError as exc:
            raise _Refused(f"--date: {exc}") from None
    if args.limit is not None and args.limit <= 0:
        raise _Refused("--limit must be a positive number")
    query = StudyQuery(patient_name=args.patient_name or "", patient_id=args.patient_id or "",
                       accession=args.accession or "", date=date, modalities=_modalities(args.modality),
                       limit=args.limit)
    studies = open_client(_node_from_args(args)).find_studies(query)
    if args.json:
        print(json.dumps([s.to_json() for s in studies], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not studies:
        print("No study matches.")
        return EXIT_OK
    print(f"{'Date':<10}  {'Patient':<28}  {'ID':<14}  {'Mod.':<7}  {'Ser/Inst':<8}  {'Description':<30}  Study UID")
    for s in studies:
        counts = f"{s.series if s.series is not None else '?'}/{s.instances if s.instances is not None else '?'}"
        print(f"{_date(s.study_date):<10}  {(s.patient_name or '')[:28]:<28}  {(s.patient_id or '')[:14]:<14}  "
              f"{','.join(s.modalities)[:7]:<7}  {counts:<8}  {(s.description or '')[:30]:<30}  {s.study_uid}")
    return EXIT_OK


def _date(value: str | None) -> str:
    if value and len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value or ""


def _uid_arg(value: str, what: str) -> str:
    from dicom_io.pacs import check_uid

    try:
        return check_uid(value, what)
    except ValueError as exc:
        raise _Refused(str(exc)) from None


@_run
def cmd_pacs_series(args: argparse.Namespace) -> int:
    """The series of one study."""
    from dicom_io.pacs import open_client

    study_uid = _uid_arg(args.study_uid, "Study Instance UID")
    series = open_client(_node_from_args(args)).find_series(study_uid)
    if args.json:
        print(json.dumps([s.to_json() for s in series], indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{'No.':>5}  {'Mod.':<5}  {'Inst':>5}  {'Description':<40}  Series UID")
    for s in series:
        print(f"{'' if s.number is None else s.number:>5}  {s.modality or '':<5}  "
              f"{'' if s.instances is None else s.instances:>5}  {(s.description or '')[:40]:<40}  {s.series_uid}")
    return EXIT_OK


# --- pacs get / store --------------------------------------------------------------------------------------


@_run
def cmd_pacs_get(args: argparse.Namespace) -> int:
    """Retrieve a study (or a series) into a folder."""
    from dicom_io.pacs import open_client

    study_uid = _uid_arg(args.study_uid, "Study Instance UID")
    series_uid = _uid_arg(args.series, "Series Instance UID") if args.series else None
    node = _node_from_args(args)
    bar = _Bar(sys.stderr, "Retrieving")
    with _Interrupt() as cancelled:
        try:
            result = open_client(node).retrieve(study_uid, Path(args.out), series_uid=series_uid, progress=bar,
                                                cancel=cancelled)
        finally:
            bar.close()
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(f"Received {result.received} instance(s) into {args.out} ({result.method}).")
    if result.cancelled:
        print(f"deformity-app: retrieve cancelled; the {result.received} instance(s) received are kept in {args.out}.",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if not result.complete:
        detail = " ".join(result.problems) or f"{result.failed} instance(s) did not arrive."
        print(f"deformity-app: partial retrieve, {result.received} instance(s) kept in {args.out}: {detail}",
              file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK


def _dicom_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            if not found:
                raise _Refused(f"{path}: the folder holds no files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise _Refused(f"{path}: file not found")
    return files


@_run
def cmd_pacs_store(args: argparse.Namespace) -> int:
    """Send files (or every file of folders) to the node."""
    from dicom_io.pacs import open_client

    files = _dicom_files(args.paths)
    node = _node_from_args(args)
    bar = _Bar(sys.stderr, "Sending")
    with _Interrupt() as cancelled:
        try:
            result = open_client(node).store(files, progress=bar, cancel=cancelled)
        finally:
            bar.close()
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        converted = sum(1 for o in result.outcomes if o.ok and o.converted)
        note = f" ({converted} converted to uncompressed)" if converted else ""
        print(f"Stored {result.stored} of {len(result.outcomes)} instance(s) on {node.label}{note}.")
    for outcome in result.outcomes:
        if not outcome.ok:
            print(f"deformity-app: {outcome.path or outcome.sop_instance_uid}: {outcome.status}: {outcome.message}",
                  file=sys.stderr)
    if result.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_OK if result.failed == 0 else EXIT_REFUSED


# --- export ------------------------------------------------------------------------------------------------


def _window_arg(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        centre, width = (float(v) for v in text.split(","))
    except ValueError:
        raise _Refused(f"--window {text!r}: expected CENTRE,WIDTH in the film's values, e.g. 2450,2500") from None
    if width <= 0:
        raise _Refused("--window: the width must be positive")
    return centre, width


@_run
def cmd_export(args: argparse.Namespace) -> int:
    """Write the analysis of a case as DICOM objects of the film's study."""
    from measurements.case import CaseError, load_case

    from .dicom_export import KINDS, ExportError, ExportOptions, export_case

    case_path = Path(args.case)
    try:
        case = load_case(case_path)
    except CaseError as exc:
        raise _Refused(f"{case_path}: {exc}") from None
    kinds = tuple(k for k in KINDS if getattr(args, k)) or KINDS
    options = ExportOptions(kinds=kinds, window=_window_arg(args.window))
    try:
        written, warnings = export_case(case, case_path, Path(args.out), options)
    except ExportError as exc:
        raise _Refused(f"{case_path}: {exc}") from None
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps([{"kind": o.kind, "file": str(p), "sop_class_uid": o.sop_class_uid,
                           "sop_instance_uid": o.sop_instance_uid, "series_instance_uid": o.series_instance_uid,
                           "study_instance_uid": str(o.dataset.StudyInstanceUID)} for o, p in written], indent=2))
    else:
        for obj, path in written:
            print(f"{path}  ({obj.description})")
    return EXIT_OK


# --- parsers -----------------------------------------------------------------------------------------------


def add_pacs_parsers(subparsers: Any) -> None:
    """Register `pacs` (echo, find, series, get, store) and `export` on the main parser's subparsers."""
    pacs = subparsers.add_parser("pacs", help="query, retrieve from and store to a PACS (DIMSE or DICOMweb)",
                                 description="Query, retrieve and store on a PACS. Nodes are named in "
                                 "the settings file (pacs.json in the user's config folder).")
    actions = pacs.add_subparsers(dest="pacs_command", metavar="ACTION")
    actions.required = True

    p = actions.add_parser("echo", help="check that the node answers (C-ECHO, or a DICOMweb search)")
    _add_node_options(p)
    p.set_defaults(func=cmd_pacs_echo)

    p = actions.add_parser("find", help="search studies (C-FIND or QIDO-RS)")
    p.add_argument("--patient-name", metavar="PATTERN", help="DICOM wildcards * and ? allowed, e.g. 'SMITH*'")
    p.add_argument("--patient-id", metavar="ID")
    p.add_argument("--accession", metavar="A")
    p.add_argument("--date", metavar="YYYYMMDD[-YYYYMMDD]", help="study date or range")
    p.add_argument("--modality", metavar="CR,DX", help="studies holding any of these modalities")
    p.add_argument("--limit", type=int, metavar="N", help="at most N studies")
    p.add_argument("--json", action="store_true", help="a JSON list of studies")
    _add_node_options(p)
    p.set_defaults(func=cmd_pacs_find)

    p = actions.add_parser("series", help="list the series of a study")
    p.add_argument("study_uid", metavar="STUDY_UID")
    p.add_argument("--json", action="store_true")
    _add_node_options(p)
    p.set_defaults(func=cmd_pacs_series)

    p = actions.add_parser("get", help="retrieve a study or a series into a folder (C-GET, C-MOVE or WADO-RS)")
    p.add_argument("study_uid", metavar="STUDY_UID")
    p.add_argument("--series", metavar="SERIES_UID", help="only this series")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="folder for the files (SOPInstanceUID.dcm)")
    p.add_argument("--json", action="store_true")
    _add_node_options(p)
    p.set_defaults(func=cmd_pacs_get)

    p = actions.add_parser("store", help="send DICOM files to the node (C-STORE or STOW-RS)")
    p.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    p.add_argument("--json", action="store_true", help="per-file status")
    _add_node_options(p)
    p.set_defaults(func=cmd_pacs_store)

    p = subparsers.add_parser("export", help="write the analysis as DICOM (SR, presentation state, "
                              "secondary capture, PDF) in the film's study")
    p.add_argument("case", metavar="CASE", help="a case file (*.case.json); its film is read from image.path")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="folder for the objects")
    p.add_argument("--sr", action="store_true", help="Comprehensive 3D SR measurement report (TID 1500)")
    p.add_argument("--gsps", action="store_true", help="grayscale softcopy presentation state with the overlay")
    p.add_argument("--sc", action="store_true", help="secondary capture of the annotated film")
    p.add_argument("--pdf", action="store_true", help="the PDF report as Encapsulated PDF")
    p.add_argument("--window", metavar="CENTRE,WIDTH", help="display window (default: the film's first preset)")
    p.add_argument("--json", action="store_true", help="a JSON list of the objects written")
    p.set_defaults(func=cmd_export)


def build_parser() -> argparse.ArgumentParser:
    """A parser with only these commands (for tests and `python -m deformity_app.pacs_cli`)."""
    parser = argparse.ArgumentParser(prog="deformity-app")
    add_pacs_parsers(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    __import__("deformity_app.logs", fromlist=["setup_logging"]).setup_logging()
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        log.debug("internal error", exc_info=True)
        print(f"deformity-app: internal error ({type(exc).__name__}: {exc}); please report it", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
