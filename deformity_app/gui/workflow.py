"""The guided landmark workflow: which landmark comes next, and what each measurement still needs.

Plain Python (no Qt) so that it is tested without a window; the step panel is a view of it.
"""
from __future__ import annotations

from dataclasses import dataclass

from measurements.case import Case
from measurements.landmarks import LANDMARK_NAMES, Side, landmark_label, landmark_prompt
from measurements.measure import REQUIREMENTS
from measurements.present import LABELS


@dataclass(frozen=True, slots=True)
class Step:
    side: Side
    name: str

    @property
    def prompt(self) -> str:
        return landmark_prompt(self.side, self.name)

    @property
    def title(self) -> str:
        return f"{self.side.label} {landmark_label(self.name).lower()}"


class Workflow:
    """Steps in clinical order (hip to ankle), limb by limb, for the limbs being analysed."""

    def __init__(self, sides: tuple[Side, ...] = (Side.RIGHT, Side.LEFT)) -> None:
        self.sides: tuple[Side, ...] = ()
        self.steps: list[Step] = []
        self.index = 0
        self.set_sides(sides)

    def set_sides(self, sides: tuple[Side, ...]) -> None:
        current = self.current
        self.sides = tuple(Side(s) for s in sides)
        self.steps = [Step(side, name) for side in self.sides for name in LANDMARK_NAMES]
        self.index = self.steps.index(current) if current in self.steps else 0

    @property
    def current(self) -> Step | None:
        return self.steps[self.index] if 0 <= self.index < len(self.steps) else None

    def go_to(self, step: Step) -> None:
        if step in self.steps:
            self.index = self.steps.index(step)

    def is_done(self, case: Case, step: Step) -> bool:
        limb = case.limbs.get(step.side)
        return limb is not None and step.name in limb.landmarks

    def advance(self, case: Case) -> Step | None:
        """Move to the next step that is not placed yet (wrapping round); None when all are placed."""
        n = len(self.steps)
        for offset in range(1, n + 1):
            i = (self.index + offset) % n
            if not self.is_done(case, self.steps[i]):
                self.index = i
                return self.steps[i]
        self.index = -1  # complete: no current step until the user picks one or removes a landmark
        return None

    def skip(self) -> Step | None:
        if self.steps:
            self.index = (self.index + 1) % len(self.steps)
        return self.current

    def back(self) -> Step | None:
        if self.steps:
            self.index = (self.index - 1) % len(self.steps) if self.index >= 0 else len(self.steps) - 1
        return self.current

    def remaining(self, case: Case) -> list[Step]:
        return [s for s in self.steps if not self.is_done(case, s)]


def missing_for_measurements(case: Case, side: Side) -> dict[str, list[str]]:
    """For each measurement of the limb that cannot be computed yet, the landmarks it still needs."""
    limb = case.limbs.get(Side(side))
    placed = set(limb.landmarks) if limb else set()
    out: dict[str, list[str]] = {}
    for key, needs in REQUIREMENTS.items():
        missing = [landmark_label(n) for n in needs if n not in placed]
        if missing:
            out[LABELS.get(key, key)] = missing
    return out
