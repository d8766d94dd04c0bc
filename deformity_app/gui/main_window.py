"""The main window: film view, guided landmark steps, measurements, menus, saving and recovery."""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path

from PySide6.QtCore import QObject, QRectF, QRunnable, QSettings, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from measurements.case import Case, CaseError, load_case, save_case
from measurements.geometry import GeometryError, fit_circle
from measurements.landmarks import Side, landmark_label
from measurements.overlay import Layer, build_overlay

from .. import __version__
from ..recovery import RecoveryFile, find_orphans
from .document import CalibrationState, CaseDocument
from .film_view import FilmView
from .panels import MeasurementPanel, StepsPanel
from .scene_items import HandleItem, LandmarkItem, OverlayItem, PointsItem
from .workflow import Step, Workflow

log = logging.getLogger(__name__)

FILM_FILTER = "Films (*.dcm *.dicom *.DCM *.png *.jpg *.jpeg *.tif *.tiff *.case.json);;All files (*)"
CASE_FILTER = "Case files (*.case.json);;JSON (*.json)"
MAX_RECENT = 10


class _LoadSignals(QObject):
    done = Signal(object, object)  # (radiograph or None, error message or None)


class _FilmLoad(QRunnable):
    """Decodes a film off the GUI thread."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.signals = _LoadSignals()

    def run(self) -> None:
        from dicom_io.errors import FilmError
        from dicom_io.film import open_film

        try:
            film = open_film(self.path)
            from ..logs import remember_patient

            remember_patient(film.metadata)  # so that the log redacts this patient's name and ID
        except FilmError as exc:
            self.signals.done.emit(None, str(exc))
        except MemoryError:
            self.signals.done.emit(None, "There is not enough memory to open this film.")
        except Exception as exc:  # noqa: BLE001 - never let a worker die silently
            log.exception("unexpected error opening a film")
            self.signals.done.emit(None, f"The film could not be opened ({type(exc).__name__}).")
        else:
            self.signals.done.emit(film, None)


class Tool:
    """What a left click on the film does."""

    LANDMARK = "landmark"
    HEAD = "head"  # points on a femoral head contour
    BALL = "ball"  # points on a calibration ball's edge
    LINE = "line"  # two ends of a line of known length
    CUT = "cut"  # two ends of an osteotomy cut (planning)


class MainWindow(QMainWindow):
    filmLoaded = Signal()
    filmFailed = Signal(str)

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self._deferring_changes = False
        self._shown_result = None  # the measurements the overlay and the panel show
        self.settings = settings or QSettings()
        self.doc = CaseDocument(self)
        self.workflow = Workflow()
        self.recovery = RecoveryFile()
        self._pending_case: tuple[Case, Path | None] | None = None
        self._loads: list[_FilmLoad] = []
        self.tool = Tool.LANDMARK
        self.tool_side: Side = Side.RIGHT
        self.tool_points: list[tuple[float, float]] = []

        self.view = FilmView(self)
        self.setCentralWidget(self.view)
        self.scene = self.view.scene()
        self.overlay_item = OverlayItem()
        self.scene.addItem(self.overlay_item)
        self.tool_item = PointsItem(QColor(255, 120, 255))
        self.scene.addItem(self.tool_item)
        self.head_items = {side: PointsItem(QColor(80, 200, 255) if side is Side.RIGHT else QColor(255, 190, 60))
                           for side in Side}
        for item in self.head_items.values():
            self.scene.addItem(item)
        # a square on the fitted head's edge: drag it to make the circle larger or smaller
        self.head_handles = {side: HandleItem(self.head_items[side].colour, f"Drag to resize the {side} femoral "
                                              "head circle", lambda x, y, g, side=side: self.resize_head_circle(
                                                  side, (x, y), g)) for side in Side}
        for handle in self.head_handles.values():
            handle.hide()
            self.scene.addItem(handle)
        self.landmark_items: dict[tuple[Side, str], LandmarkItem] = {}

        self.steps_panel = StepsPanel(self.doc, self.workflow)
        self.measure_panel = MeasurementPanel(self.doc)
        self._dock("Landmarks", self.steps_panel, Qt.LeftDockWidgetArea)
        scroll = QScrollArea()
        scroll.setWidget(self.measure_panel)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(440)
        self.measure_dock = self._dock("Measurements", scroll, Qt.RightDockWidgetArea)
        self.measure_dock_widget = scroll

        self.status_position = QLabel()
        self.status_value = QLabel()
        self.status_calibration = QLabel()
        self.status_window = QLabel()
        for w in (self.status_position, self.status_value, self.status_window):
            self.statusBar().addWidget(w)
        self.statusBar().addPermanentWidget(self.status_calibration)

        from .planning import PlanningController

        self.planning = PlanningController(self)
        planning_scroll = QScrollArea()
        planning_scroll.setWidget(self.planning.panel)
        planning_scroll.setWidgetResizable(True)
        self.planning_dock = self._dock("Planning", planning_scroll, Qt.RightDockWidgetArea)
        self.tabifyDockWidget(self.measure_dock, self.planning_dock)
        self.planning_dock.hide()
        self.planning.panel.newPlanRequested.connect(self.start_cut_tool)
        self._build_menus()
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(300)
        self._autosave_timer.timeout.connect(self._autosave)
        # While a landmark or a hinge is dragged the film and its overlays follow every mouse step;
        # the panels' texts (re-laying out word-wrapped labels costs ~5 ms, the planning panel ~10)
        # follow at most every 80 ms, and exactly when the drag ends.
        self._panel_timer = QTimer(self)
        self._panel_timer.setSingleShot(True)
        self._panel_timer.setInterval(80)
        self._panel_timer.timeout.connect(self._refresh_panel)
        self.view.dragFinished.connect(self._flush_panel)

        self.doc.changed.connect(self._on_changed)
        self.doc.pathChanged.connect(self._update_title)
        self.doc.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.view.leftPressed.connect(self._on_left_pressed)
        self.view.cursorMoved.connect(self._on_cursor)
        self.view.windowChanged.connect(lambda c, w: self.status_window.setText(f"W/L {w:.0f}/{c:.0f}"))
        self.steps_panel.sidesChanged.connect(self._on_sides)
        self.steps_panel.stepChosen.connect(self._on_step_chosen)
        self.steps_panel.backRequested.connect(lambda: (self.workflow.back(), self._after_step()))
        self.steps_panel.skipRequested.connect(lambda: (self.workflow.skip(), self._after_step()))
        self.steps_panel.headToolRequested.connect(self.start_head_tool)
        self.setAcceptDrops(True)
        self.resize(1500, 950)
        self._on_changed()
        self._update_title()
        from .practice import install_practice

        self.practice = install_practice(self)
        from .pacs_browser import install_pacs

        self.pacs = install_pacs(self)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    # --- menus ------------------------------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Open film or case…", self.open_dialog, QKeySequence.Open)
        self._action(file_menu, "Open &folder or DICOMDIR…", self.open_folder_dialog, "Ctrl+Shift+O")
        self.recent_menu = file_menu.addMenu("Open rec&ent")
        self._action(file_menu, "Open de&mo film", self.open_demo)
        file_menu.addSeparator()
        self._action(file_menu, "&Save case", self.save, QKeySequence.Save)
        self._action(file_menu, "Save case &as…", self.save_as, QKeySequence.SaveAs)
        file_menu.addSeparator()
        self.report_action = self._action(file_menu, "Export &report (PDF)…", self.export_report, "Ctrl+P")
        self._action(file_menu, "Export &DICOM results to a folder…", self.export_dicom_dialog)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.Quit)
        self._refresh_recent()

        edit = bar.addMenu("&Edit")
        undo = self.doc.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.Undo)
        redo = self.doc.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence.Redo])
        edit.addAction(undo)
        edit.addAction(redo)
        self.undo_action, self.redo_action = undo, redo
        edit.addSeparator()
        self._action(edit, "&Delete selected landmark", self.delete_selected, "Del")

        view = bar.addMenu("&View")
        self._action(view, "&Fit film", self.view.fit, "F")
        self._action(view, "&1:1", self.view.one_to_one, "1")
        self._action(view, "&Automatic window", self._auto_window, "A")
        self.presets_menu = view.addMenu("Window &presets")
        self.invert_action = self._action(view, "&Invert", lambda on: self.view.set_invert(on), "I", True)
        self.clahe_action = self._action(view, "&Contrast enhancement (viewing only)",
                                         lambda on: self.view.set_clahe(on), "C", True)
        self.loupe_action = self._action(view, "&Magnifier loupe", lambda on: self.view.set_loupe_enabled(on), "M",
                                         True)
        self.loupe_action.setChecked(True)
        self.view.set_loupe_enabled(True)
        self.planning_action = self._action(view, "Planning mo&de (CORA and osteotomy)", self.set_planning_mode,
                                            "Ctrl+Shift+P", True)
        layers = view.addMenu("Overlay &layers")
        self.layer_actions: dict[Layer, QAction] = {}
        for layer in Layer:
            action = self._action(layers, layer.label, self._on_layers, checkable=True)
            action.setChecked(True)
            self.layer_actions[layer] = action

        tools = bar.addMenu("&Tools")
        self._action(tools, "Femoral head from &contour (current limb)", self.start_head_tool, "H")
        self._action(tools, "Calibrate with a &ball marker…", self.start_ball_tool, "B")
        self._action(tools, "Calibrate with a &line of known length…", self.start_line_tool)
        self._action(tools, "Draw an &osteotomy cut (planning)", self.start_cut_tool, "O")
        self._action(tools, "&Finish the current tool", self.finish_tool, "Return")
        self._action(tools, "Ca&ncel the current tool", self.cancel_tool, "Esc")

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About", self._about)

    def _about(self) -> None:
        from .about import show_about

        show_about(self)

    # --- opening ---------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a film or a case", self._last_dir(), FILM_FILTER)
        if path:
            self.open_path(Path(path))

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder or a hospital CD", self._last_dir())
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> None:
        from dicom_io.errors import FilmError
        from dicom_io.folder import list_films

        try:
            films = list_films(folder)
        except FilmError as exc:
            self.show_error(f"The folder {folder} cannot be read: {exc}")
            return
        if not films:
            self.show_error(f"No film was found in {folder}.")
            return
        chooser = FilmChooser(films, self)
        if chooser.exec() == QDialog.Accepted and chooser.chosen is not None:
            self.open_film(Path(chooser.chosen.path))

    def open_demo(self) -> None:
        from dicom_io.demo import ensure_demo

        film, _case = ensure_demo()
        self.open_film(film)

    def open_path(self, path: Path) -> None:
        if path.is_dir():
            self.open_folder(path)
        elif path.name.endswith(".json"):
            self.open_case(path)
        else:
            self.open_film(path)

    def _maybe_discard(self) -> bool:
        """Ask before replacing modified work; True when it may be replaced."""
        if not self.doc.modified:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", "The current case has unsaved changes. Save them first?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def open_film(self, path: Path, case: Case | None = None, case_path: Path | None = None, ask: bool = True) -> None:
        """Start decoding `path`; the current work stays until the film has opened."""
        if ask and not self._maybe_discard():
            return
        self._pending_case = (case, case_path) if case is not None else None
        self.statusBar().showMessage(f"Opening {path.name}…")
        QApplication.setOverrideCursor(Qt.WaitCursor)
        load = _FilmLoad(Path(path))
        self._loads.append(load)
        load.signals.done.connect(lambda film, error, load=load, path=Path(path): self._on_film_loaded(load, path,
                                                                                                      film, error))
        QThreadPool.globalInstance().start(load)

    def _on_film_loaded(self, load: _FilmLoad, path: Path, film, error: str | None) -> None:
        if load in self._loads:
            self._loads.remove(load)
        QApplication.restoreOverrideCursor()
        pending, self._pending_case = self._pending_case, None
        if film is None:
            self.statusBar().clearMessage()
            self.show_error(f"{path.name} could not be opened: {error}")
            self.filmFailed.emit(error or "")
            return
        if pending is not None:
            case, case_path = pending
            problem = _case_film_mismatch(case, film)
            if problem:
                self.show_error(f"The case does not match its film: {problem}. Nothing was changed.")
                self.filmFailed.emit(problem)
                return
        else:
            case, case_path = _case_for_film(film, path), None
        self._deferring_changes = True  # _show_film refreshes everything once the view has the film
        try:
            self.doc.reset(case, film, path, case_path)
        finally:
            self._deferring_changes = False
        self._show_film(film)
        self._add_recent(case_path or path)
        self.statusBar().showMessage(
            f"Opened {path.name}" + (f" — {'; '.join(film.notes)}" if getattr(film, "notes", ()) else ""), 8000)
        self.filmLoaded.emit()

    def _show_film(self, film) -> None:
        window = film.window_presets[0] if film.window_presets else film.auto_window
        self.view.set_film(film.pixels, (window.center, window.width), bool(film.invert_display))
        self.invert_action.setChecked(bool(film.invert_display))
        self.presets_menu.clear()
        self._action(self.presets_menu, f"Automatic ({film.auto_window.width:.0f}/{film.auto_window.center:.0f})",
                     self._auto_window)
        for preset in film.window_presets:
            name = preset.name or "File preset"
            self._action(self.presets_menu, f"{name} ({preset.width:.0f}/{preset.center:.0f})",
                         lambda _=False, p=preset: self.view.set_window(p.center, p.width))
        self.workflow.set_sides(self.workflow.sides)
        self.workflow.index = 0
        self.workflow.advance(self.doc.case) if self.workflow.is_done(self.doc.case, self.workflow.steps[0]) else None
        self._on_changed()

    def _auto_window(self) -> None:
        film = self.doc.radiograph
        if film is not None:
            self.view.set_window(film.auto_window.center, film.auto_window.width)

    def open_case(self, path: Path) -> None:
        try:
            case = load_case(path)
        except CaseError as exc:
            self.show_error(f"{path.name} cannot be opened: {exc}")
            return
        film_path = _resolve_film(case, path)
        if film_path is None or not film_path.exists():
            QMessageBox.information(self, "Film not found",
                                    f"The film of this case was not found{f' at {film_path}' if film_path else ''}. "
                                    "Please show where it is.")
            chosen, _ = QFileDialog.getOpenFileName(self, "Where is the film of this case?", str(path.parent),
                                                    FILM_FILTER)
            if not chosen:
                return
            film_path = Path(chosen)
        self.open_film(film_path, case, path)

    # --- saving -----------------------------------------------------------------------------------
    def save(self) -> bool:
        if self.doc.case_path is None:
            return self.save_as()
        return self._save_to(self.doc.case_path)

    def save_as(self) -> bool:
        suggestion = self.doc.case_path or (
            self.doc.film_path.with_name(self.doc.film_path.stem + ".case.json") if self.doc.film_path else None)
        path, _ = QFileDialog.getSaveFileName(self, "Save the case", str(suggestion or self._last_dir()), CASE_FILTER)
        if not path:
            return False
        if not path.endswith(".json"):
            path += ".case.json"
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        case = self.doc.case.copy()
        if self.doc.film_path is not None:
            film = self.doc.film_path.resolve()
            try:
                case.image["path"] = os.path.relpath(film, path.resolve().parent)
            except ValueError:  # another drive on Windows
                case.image["path"] = str(film)
        try:
            save_case(case, path)
        except OSError as exc:
            self.show_error(f"The case could not be saved to {path}: {exc.strerror or exc}. Your work is still open "
                            "and kept in the recovery file.")
            return False
        self.doc.case.image["path"] = case.image["path"]
        self.doc.undo_stack.setClean()
        self.doc.set_case_path(path)
        self._add_recent(path)
        self.statusBar().showMessage(f"Saved {path.name}", 5000)
        return True

    def export_report(self) -> Path | None:
        if self.doc.radiograph is None:
            self.show_error("Open a film first: the report prints the film with its analysis.")
            return None
        from .report_dialog import export_report_dialog

        return export_report_dialog(self, self.doc.case, self.doc.case_path, self.doc.radiograph, self.doc.film_path,
                                    window=self.view.window())

    def export_dicom_dialog(self) -> list[Path]:
        folder = QFileDialog.getExistingDirectory(self, "Write the DICOM results into", self._last_dir())
        return self.export_dicom(Path(folder)) if folder else []

    def export_dicom(self, folder: Path) -> list[Path]:
        """SR, presentation state, secondary capture and encapsulated PDF of the open case into `folder`."""
        from ..dicom_export import ExportError, ExportOptions, export_case

        if self.doc.radiograph is None or self.doc.film_path is None:
            self.show_error("Open a film first: the DICOM results belong to the film's study.")
            return []
        QApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            written, warnings = export_case(self.doc.case, self.doc.case_path, folder,
                                            ExportOptions(window=self.view.window()), film_path=self.doc.film_path,
                                            radiograph=self.doc.radiograph)
        except ExportError as exc:
            QApplication.restoreOverrideCursor()
            self.show_error(f"The DICOM results could not be written: {exc}")
            return []
        QApplication.restoreOverrideCursor()
        paths = [path for _obj, path in written]
        note = f"Wrote {len(paths)} DICOM objects to {folder}"
        self.statusBar().showMessage(note + (f" ({'; '.join(warnings)})" if warnings else ""), 10000)
        return paths

    # --- edits from the film ------------------------------------------------------------------------
    def _on_left_pressed(self, x: float, y: float, _modifiers) -> None:
        if self.doc.radiograph is None:
            return
        if self.tool == Tool.LANDMARK:
            step = self.workflow.current
            if step is None:
                self.statusBar().showMessage("Every landmark is placed; drag one to move it.", 4000)
                return
            self.doc.place_landmark(step.side, step.name, (x, y))
            self.workflow.advance(self.doc.case)
            self._after_step()
            return
        self.tool_points.append((x, y))
        if self.tool in (Tool.LINE, Tool.CUT) and len(self.tool_points) == 2:
            self.finish_tool()
            return
        self._update_tool_item()

    def _update_tool_item(self) -> None:
        circle = None
        if self.tool in (Tool.HEAD, Tool.BALL) and len(self.tool_points) >= 3:
            try:
                fit = fit_circle(self.tool_points)
                circle = (fit.center[0], fit.center[1], fit.radius)
            except GeometryError:
                circle = None
        self.tool_item.set_data(self.tool_points, circle)
        hint = {Tool.HEAD: f"Femoral head ({self.tool_side}): click points on the head's contour",
                Tool.BALL: "Calibration ball: click points on the ball's edge",
                Tool.LINE: "Calibration line: click both ends",
                Tool.CUT: "Osteotomy: click both ends of the cut across the bone"}.get(self.tool, "")
        if hint:
            self.statusBar().showMessage(f"{hint} — {len(self.tool_points)} so far; Enter to finish, Esc to cancel.")

    def start_head_tool(self) -> None:
        step = self.workflow.current
        self.tool_side = step.side if step else Side.RIGHT
        self._start_tool(Tool.HEAD)

    def start_ball_tool(self) -> None:
        self._start_tool(Tool.BALL)

    def start_line_tool(self) -> None:
        self._start_tool(Tool.LINE)

    def start_cut_tool(self) -> None:
        if not self.planning.active:
            self.planning_action.setChecked(True)
            self.set_planning_mode(True)
        self._start_tool(Tool.CUT)

    def set_planning_mode(self, on: bool) -> None:
        self.planning_dock.setVisible(on)
        if on:
            self.planning_dock.raise_()
        self.planning.set_active(on)

    def _start_tool(self, tool: str) -> None:
        if self.doc.radiograph is None:
            return
        self.tool = tool
        self.tool_points = []
        self.view.set_interaction_mode("signals_only")
        self._update_tool_item()

    def cancel_tool(self) -> None:
        self.tool = Tool.LANDMARK
        self.tool_points = []
        self.tool_item.set_data([], None)
        self.view.set_interaction_mode("items_first")
        self.statusBar().clearMessage()

    def finish_tool(self) -> None:
        tool, points, side = self.tool, list(self.tool_points), self.tool_side
        if tool == Tool.LANDMARK:
            return
        if tool in (Tool.HEAD, Tool.BALL) and len(points) < 3:
            self.statusBar().showMessage("A circle needs at least three points on its edge.", 4000)
            return
        if tool in (Tool.LINE, Tool.CUT) and len(points) < 2:
            return
        self.cancel_tool()
        if tool == Tool.HEAD:
            self.apply_head_circle(side, points)
        elif tool == Tool.BALL:
            diameter = ask_length(self, "Calibration ball", "Diameter of the ball (mm):", 25.0)
            if diameter:
                self.apply_ball_calibration(points, diameter)
        elif tool == Tool.CUT:
            self.planning.add_plan_from_cut(points[0], points[1])
        elif tool == Tool.LINE:
            length = ask_length(self, "Calibration line", "Real length of the line (mm):", 100.0)
            if length:
                self.apply_line_calibration(points[0], points[1], length)

    def apply_head_circle(self, side: Side, points: list[tuple[float, float]]) -> None:
        """Femoral head centre (and top, when not placed) from the best-fit circle, as one undo step."""
        try:
            fit = _fit_in_physical(points, self.doc.case.pixel_spacing_mm)
        except GeometryError as exc:
            self.show_error(f"No circle fits these points: {exc}.")
            return
        cx, cy, r_px_x, r_px_y = fit
        stack = self.doc.undo_stack
        stack.beginMacro(f"Fit {side} femoral head")
        self.doc.set_limb_extra(side, "femoral_head_circle_px",
                                {"center": [cx, cy], "radius": [r_px_x, r_px_y], "points": [list(p) for p in points]},
                                "Fit femoral head circle")
        self.doc.place_landmark(side, "femoral_head_center", (cx, cy))
        if self.doc.landmark(side, "femoral_head_top") is None:
            self.doc.place_landmark(side, "femoral_head_top", (cx, cy - r_px_y))
        stack.endMacro()
        if self.workflow.current and self.workflow.is_done(self.doc.case, self.workflow.current):
            self.workflow.advance(self.doc.case)
        self._after_step()

    def resize_head_circle(self, side: Side, point: tuple[float, float], gesture: int = 0) -> None:
        """Make the side's fitted head circle pass through `point` (its centre stays); the steps of one
        drag are one undo entry. The circle is drawn for judging the fit; the centre is what measures."""
        limb = self.doc.case.limbs.get(side)
        circle = limb.extra.get("femoral_head_circle_px") if limb else None
        center = limb.landmarks.get("femoral_head_center") if limb else None
        if not circle or not center:
            return
        rx, ry = _head_radii(circle)
        row_mm, col_mm = self.doc.case.pixel_spacing_mm or (1.0, 1.0)
        r_mm = math.hypot((point[0] - center[0]) * col_mm, (point[1] - center[1]) * row_mm)
        if r_mm <= 0:
            return
        new = dict(circle)
        new["center"] = [center[0], center[1]]
        new["radius"] = [r_mm / col_mm, r_mm / row_mm]
        self.doc.set_limb_extra(side, "femoral_head_circle_px", new, f"Resize {side} femoral head circle", gesture)

    def apply_ball_calibration(self, points: list[tuple[float, float]], diameter_mm: float) -> None:
        from dicom_io.calibration import calibration_from_marker

        current = self._current_calibration()
        try:
            cal = calibration_from_marker(points, diameter_mm, current)
        except (ValueError, GeometryError) as exc:
            self.show_error(f"The ball could not be measured: {exc}.")
            return
        extra = {"caveat": cal.caveat, "marker": {"points_px": [list(p) for p in points], "diameter_mm": diameter_mm}}
        self.doc.set_calibration(CalibrationState((cal.row_mm, cal.column_mm), "marker", extra),
                                 f"Calibrate on a {diameter_mm:g} mm ball")

    def apply_line_calibration(self, p0, p1, length_mm: float) -> None:
        from dicom_io.calibration import calibration_from_line

        try:
            cal = calibration_from_line(p0, p1, length_mm, self._current_calibration())
        except (ValueError, GeometryError) as exc:
            self.show_error(f"The line could not be used: {exc}.")
            return
        extra = {"caveat": cal.caveat, "line": {"points_px": [list(p0), list(p1)], "length_mm": length_mm}}
        self.doc.set_calibration(CalibrationState((cal.row_mm, cal.column_mm), "manual", extra),
                                 f"Calibrate on a {length_mm:g} mm line")

    def _current_calibration(self):
        from dicom_io.calibration import Calibration, CalibrationSource

        case = self.doc.case
        if case.pixel_spacing_mm is None:
            return Calibration.uncalibrated()
        return Calibration(case.pixel_spacing_mm[0], case.pixel_spacing_mm[1], CalibrationSource(case.calibration_source),
                           str(case.calibration_extra.get("caveat", "")))

    def delete_selected(self) -> None:
        for item in self.scene.selectedItems():
            if isinstance(item, LandmarkItem):
                self.doc.delete_landmark(item.side, item.name)

    # --- workflow -----------------------------------------------------------------------------------
    def _on_sides(self, sides: tuple) -> None:
        self.workflow.set_sides(tuple(sides))
        self._after_step()

    def _on_step_chosen(self, step: Step) -> None:
        self.workflow.go_to(step)
        self._after_step()
        item = self.landmark_items.get((step.side, step.name))
        if item is not None:
            self.view.centerOn(item)

    def _after_step(self) -> None:
        current = self.workflow.current
        for (side, name), item in self.landmark_items.items():
            active = current is not None and (current.side, current.name) == (side, name)
            if item.active != active:  # repainting every marker on each drag step throws away their cached pixmaps
                item.active = active
                item.update()
        self.steps_panel.refresh()

    def _on_layers(self) -> None:
        self.overlay_item.set_layers({layer for layer, a in self.layer_actions.items() if a.isChecked()})

    # --- model -> views ---------------------------------------------------------------------------
    def _on_changed(self) -> None:
        if self._deferring_changes:
            return
        case = self.doc.case
        wanted = {(side, name) for side, limb in case.limbs.items() for name in limb.landmarks}
        for key in list(self.landmark_items):
            if key not in wanted:
                self.scene.removeItem(self.landmark_items.pop(key))
        for side, limb in case.limbs.items():
            for name, (x, y) in limb.landmarks.items():
                item = self.landmark_items.get((side, name))
                if item is None:
                    item = LandmarkItem(self.doc, side, name)
                    self.scene.addItem(item)
                    self.landmark_items[(side, name)] = item
                if (item.pos().x(), item.pos().y()) != (x, y):
                    item.setPos(x, y)
        for side, item in self.head_items.items():
            limb = case.limbs.get(side)
            circle = limb.extra.get("femoral_head_circle_px") if limb else None
            center = limb.landmarks.get("femoral_head_center") if limb else None
            handle = self.head_handles[side]
            if circle and center:
                rx, ry = _head_radii(circle)
                item.set_data([], (center[0], center[1], rx, ry))
                handle.setPos(center[0] + rx, center[1])
                handle.show()
            else:
                item.set_data([], None)
                handle.hide()
        if self.workflow.current is None and self.workflow.remaining(case):
            self.workflow.advance(case)  # a landmark was removed after the guide had finished
        result = self.doc.result
        dragging = self.view.dragging()
        # a plan, a reference angle or the patient changed: the measurements are the same object
        if result is not self._shown_result:
            rows = int(case.image.get("rows") or 0)
            cols = int(case.image.get("columns") or 0)
            self.overlay_item.set_overlay(build_overlay(case, result), QRectF(-0.5, -0.5, cols, rows))
        if dragging:
            if not self._panel_timer.isActive():
                self._panel_timer.start()
        elif result is not self._shown_result or self._panel_timer.isActive():
            self._panel_timer.stop()
            self.measure_panel.refresh(result)
        self._shown_result = result
        self.planning.refresh(scene_only=dragging)
        self._after_step()
        self._update_calibration_status()
        if self.doc.radiograph is not None:
            self._autosave_timer.start()

    def _refresh_panel(self) -> None:
        self.measure_panel.refresh(self.doc.result)
        self.planning.refresh()

    def _flush_panel(self) -> None:
        if self._panel_timer.isActive():
            self._panel_timer.stop()
            self._refresh_panel()

    def _update_calibration_status(self) -> None:
        case = self.doc.case
        if case.pixel_spacing_mm:
            r, c = case.pixel_spacing_mm
            text = f"Calibration: {case.calibration_source} ({r:.4g} x {c:.4g} mm)"
        else:
            text = "Uncalibrated: angles only"
        self.status_calibration.setText(text)
        self.status_calibration.setToolTip(str(case.calibration_extra.get("caveat", "")))

    def _on_cursor(self, x: float, y: float) -> None:
        if x < 0 or self.doc.radiograph is None:
            self.status_position.setText("")
            self.status_value.setText("")
            return
        spacing = self.doc.case.pixel_spacing_mm
        text = f"x {x:.1f}, y {y:.1f} px"
        if spacing:
            text += f" | {x * spacing[1]:.1f}, {y * spacing[0]:.1f} mm"
        self.status_position.setText(text)
        value = self.view.pixel_value(x, y)
        self.status_value.setText("" if value is None else f"value {value}")

    def _on_clean_changed(self, clean: bool) -> None:
        self._update_title()
        if clean:  # saved, or every edit undone: the recovery file would only restore what is on disk
            self._autosave_timer.stop()
            self.recovery.remove()

    def _update_title(self) -> None:
        name = (self.doc.case_path.name if self.doc.case_path else
                self.doc.film_path.name if self.doc.film_path else "no film")
        self.setWindowTitle(f"{name}[*] — deformity-app {__version__}")
        self.setWindowModified(self.doc.modified)

    # --- recovery and closing ---------------------------------------------------------------------
    def _autosave(self) -> None:
        if not self.doc.modified:  # nothing unsaved: nothing to offer after a crash
            self.recovery.remove()
            return
        try:
            self.recovery.write(self.doc.case, self.doc.film_path, self.doc.case_path)
        except OSError as exc:
            log.warning("autosave failed: %s", exc)
            self.statusBar().showMessage(f"Autosave failed: {exc.strerror or exc}", 8000)

    def offer_recovery(self) -> bool:
        """After a crash: offer to restore the newest orphaned recovery file. True when restored."""
        orphans = find_orphans(self.recovery.folder)
        if not orphans:
            return False
        newest = orphans[0]
        film = newest.film_path.name if newest.film_path else "a film"
        answer = QMessageBox.question(
            self, "Recover unsaved work",
            f"deformity-app did not close properly last time. Restore the unsaved work on {film}?",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
        if answer != QMessageBox.Yes:
            for orphan in orphans:
                orphan.path.unlink(missing_ok=True)
            return False
        if newest.film_path is None or not newest.film_path.exists():
            self.show_error("The film of the recovered work was not found; the recovery file is kept in "
                            f"{newest.path.parent}.")
            return False
        self.open_film(newest.film_path, newest.case, newest.case_path, ask=False)
        self.filmLoaded.connect(lambda: self._after_recovery(orphans), Qt.SingleShotConnection)
        return True

    def _after_recovery(self, orphans) -> None:
        # The restored work is unsaved: mark it modified so that closing asks.
        self.doc.undo_stack.resetClean()
        self._update_title()
        for orphan in orphans:
            orphan.path.unlink(missing_ok=True)
        self._autosave()

    def closeEvent(self, event) -> None:  # noqa: N802
        if not self._maybe_discard():
            event.ignore()
            return
        self._autosave_timer.stop()
        self.recovery.remove()
        event.accept()

    # --- drag and drop, recent files ----------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(Path(urls[0].toLocalFile()))
            event.acceptProposedAction()

    def _recent(self) -> list[str]:
        value = self.settings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if isinstance(v, str)]

    def _add_recent(self, path: Path) -> None:
        items = [str(path)] + [p for p in self._recent() if p != str(path)]
        self.settings.setValue("recent", items[:MAX_RECENT])
        self.settings.setValue("last_dir", str(Path(path).parent))
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for p in self._recent():
            self._action(self.recent_menu, p, lambda _=False, p=p: self.open_path(Path(p)))
        self.recent_menu.setEnabled(bool(self._recent()))

    def _last_dir(self) -> str:
        return str(self.settings.value("last_dir", str(Path.home())))

    def show_error(self, message: str) -> None:
        log.info("shown to the user: %s", message)
        QMessageBox.warning(self, "deformity-app", message)


class FilmChooser(QDialog):
    """The films of a folder or a DICOMDIR, to pick one."""

    def __init__(self, films, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a film")
        self.chosen = None
        layout = QVBoxLayout(self)
        self.list = QListWidget()
        for film in films:
            item = QListWidgetItem(_film_line(film))
            item.setData(Qt.UserRole, film)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(lambda _i: self.accept())
        layout.addWidget(self.list)
        buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(700, 400)

    def accept(self) -> None:
        item = self.list.currentItem()
        self.chosen = item.data(Qt.UserRole) if item else None
        super().accept()


def _film_line(film) -> str:
    parts = [getattr(film, "patient_name", "") or "", getattr(film, "study_date", "") or "",
             getattr(film, "description", "") or getattr(film, "study_description", "") or "",
             f"{getattr(film, 'columns', '?')} x {getattr(film, 'rows', '?')}", Path(str(film.path)).name]
    return "  |  ".join(p for p in parts if p)


def ask_length(parent: QWidget, title: str, label: str, default: float) -> float | None:
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    form = QFormLayout(dialog)
    spin = QDoubleSpinBox()
    spin.setRange(0.1, 5000.0)
    spin.setDecimals(1)
    spin.setValue(default)
    spin.setSuffix(" mm")
    form.addRow(label, spin)
    buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form.addRow(buttons)
    return spin.value() if dialog.exec() == QDialog.Accepted else None


def _head_radii(circle: dict) -> tuple[float, float]:
    """Radius of a stored head circle along x and y in pixels (older cases store one number)."""
    r = circle.get("radius", 0.0)
    if isinstance(r, (list, tuple)):
        return float(r[0]), float(r[-1])
    return float(r), float(r)


def _fit_in_physical(points, spacing) -> tuple[float, float, float, float]:
    """Circle fit in physical space (a round head stays round on anisotropic pixels); returns the
    centre in pixels and the radius in pixels along x and y."""
    row_mm, col_mm = spacing or (1.0, 1.0)
    fit = fit_circle([(x * col_mm, y * row_mm) for x, y in points])
    return fit.center[0] / col_mm, fit.center[1] / row_mm, fit.radius / col_mm, fit.radius / row_mm


def _case_for_film(film, path: Path) -> Case:
    cal = film.calibration
    case = Case()
    case.image = {"path": str(path), "rows": int(film.pixels.shape[0]), "columns": int(film.pixels.shape[1])}
    uid = getattr(film.metadata, "sop_instance_uid", "")
    if uid:
        case.image["sop_instance_uid"] = uid
    if cal.row_mm and cal.column_mm:
        case.pixel_spacing_mm = (float(cal.row_mm), float(cal.column_mm))
        case.calibration_source = str(cal.source)
        if cal.caveat:
            case.calibration_extra = {"caveat": cal.caveat}
    from measurements.growth import patient_from_dicom

    meta = film.metadata
    patient = patient_from_dicom(getattr(meta, "sex", ""), getattr(meta, "birth_date", ""),
                                 getattr(meta, "study_date", ""))
    if patient:
        case.extra["patient"] = patient  # for the growth prediction; the user can edit it
    orientation = tuple(getattr(film.metadata, "patient_orientation", ()) or ())
    if len(orientation) == 2 and all(orientation):
        try:
            case = Case.from_dict({**case.to_dict(), "patient_orientation": list(orientation)})
        except CaseError:
            pass
    return case


def _case_film_mismatch(case: Case, film) -> str | None:
    rows, cols = int(film.pixels.shape[0]), int(film.pixels.shape[1])
    want_rows, want_cols = case.image.get("rows"), case.image.get("columns")
    if want_rows and want_cols and (int(want_rows), int(want_cols)) != (rows, cols):
        return f"the case is for a {want_cols} x {want_rows} film but this film is {cols} x {rows} pixels"
    uid = case.image.get("sop_instance_uid")
    film_uid = getattr(film.metadata, "sop_instance_uid", "")
    if uid and film_uid and uid != film_uid:
        return "the case names another image (its SOP Instance UID differs)"
    return None


def _resolve_film(case: Case, case_path: Path) -> Path | None:
    raw = case.image.get("path")
    if not raw:
        return None
    p = Path(str(raw))
    return p if p.is_absolute() else (case_path.parent / p)
