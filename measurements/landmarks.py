"""The frontal-plane landmarks of `case-format.md`, in the order a clinician places them.

Each landmark has a short label for tables and undo names, and a prompt for the guided workflow.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Side(StrEnum):
    RIGHT = "right"
    LEFT = "left"

    @property
    def label(self) -> str:
        return "Right" if self is Side.RIGHT else "Left"

    @property
    def other(self) -> "Side":
        return Side.LEFT if self is Side.RIGHT else Side.RIGHT


@dataclass(frozen=True, slots=True)
class LandmarkInfo:
    name: str
    label: str
    prompt: str  # completes "Click ..." with the limb side inserted by the caller


# Clinical order: hip, femur, knee, tibia, ankle (proximal to distal).
LANDMARK_INFO: tuple[LandmarkInfo, ...] = (
    LandmarkInfo("femoral_head_center", "Femoral head centre",
                 "the centre of the {side} femoral head (or three or more points on its contour)"),
    LandmarkInfo("femoral_head_top", "Femoral head top", "the most proximal point of the {side} femoral head"),
    LandmarkInfo("greater_trochanter_tip", "Greater trochanter tip", "the tip of the {side} greater trochanter"),
    LandmarkInfo("femoral_neck_midpoint", "Femoral neck midpoint",
                 "the middle of the {side} femoral neck, on the neck axis"),
    LandmarkInfo("femoral_shaft_proximal_mid", "Femoral shaft, proximal mid-point",
                 "the middle of the {side} femoral shaft, proximal third"),
    LandmarkInfo("femoral_shaft_distal_mid", "Femoral shaft, distal mid-point",
                 "the middle of the {side} femoral shaft, distal third"),
    LandmarkInfo("femoral_condyle_medial", "Medial femoral condyle",
                 "the most distal point of the {side} medial femoral condyle"),
    LandmarkInfo("femoral_condyle_lateral", "Lateral femoral condyle",
                 "the most distal point of the {side} lateral femoral condyle"),
    LandmarkInfo("knee_center", "Knee centre",
                 "the centre of the {side} knee (between the tibial spines, top of the notch)"),
    LandmarkInfo("tibial_plateau_medial", "Medial tibial plateau",
                 "the medial end of the {side} tibial plateau's subchondral line"),
    LandmarkInfo("tibial_plateau_lateral", "Lateral tibial plateau",
                 "the lateral end of the {side} tibial plateau's subchondral line"),
    LandmarkInfo("tibial_shaft_proximal_mid", "Tibial shaft, proximal mid-point",
                 "the middle of the {side} tibial shaft, proximal third"),
    LandmarkInfo("tibial_shaft_distal_mid", "Tibial shaft, distal mid-point",
                 "the middle of the {side} tibial shaft, distal third"),
    LandmarkInfo("plafond_medial", "Medial plafond", "the medial end of the {side} tibial plafond's subchondral line"),
    LandmarkInfo("plafond_lateral", "Lateral plafond", "the lateral end of the {side} tibial plafond's subchondral line"),
    LandmarkInfo("ankle_center", "Ankle centre", "the centre of the {side} tibial plafond / talar dome"),
)

LANDMARK_NAMES: tuple[str, ...] = tuple(info.name for info in LANDMARK_INFO)
_BY_NAME = {info.name: info for info in LANDMARK_INFO}


def landmark_info(name: str) -> LandmarkInfo:
    """The description of a landmark; raises KeyError for an unknown name."""
    return _BY_NAME[name]


def landmark_label(name: str) -> str:
    """A readable label, e.g. "Knee centre"; unknown names are returned as they are."""
    info = _BY_NAME.get(name)
    return info.label if info else name.replace("_", " ")


def landmark_prompt(side: Side | str, name: str) -> str:
    """The guided-workflow instruction, e.g. "Click the tip of the right greater trochanter"."""
    return "Click " + _BY_NAME[name].prompt.format(side=str(Side(side)))
