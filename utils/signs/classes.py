"""The street-sign classes, numbered as in GTSRB so that both data sets share labels."""

from __future__ import annotations

GTSRB_NAMES = (
    "speed limit 20",
    "speed limit 30",
    "speed limit 50",
    "speed limit 60",
    "speed limit 70",
    "speed limit 80",
    "end of speed limit 80",
    "speed limit 100",
    "speed limit 120",
    "no passing",
    "no passing for trucks",
    "right of way at next crossing",
    "priority road",
    "yield",
    "stop",
    "no vehicles",
    "no trucks",
    "no entry",
    "general caution",
    "dangerous curve left",
    "dangerous curve right",
    "double curve",
    "bumpy road",
    "slippery road",
    "road narrows on the right",
    "road work",
    "traffic signals",
    "pedestrians",
    "children crossing",
    "bicycles crossing",
    "beware of ice/snow",
    "wild animals crossing",
    "end of all limits",
    "turn right ahead",
    "turn left ahead",
    "ahead only",
    "go straight or right",
    "go straight or left",
    "keep right",
    "keep left",
    "roundabout",
    "end of no passing",
    "end of no passing for trucks",
)
NUM_CLASSES = len(GTSRB_NAMES)  # 43: models have one output per GTSRB class
STOP = 14
SPEED_LIMITS = (0, 1, 2, 3, 4, 5, 7, 8)  # class 6 is "end of speed limit 80", not a limit
SYNTHETIC_CLASSES = (1, 2, 4, 7, 12, 13, 14, 17, 38)  # the classes the generator draws


def name(label: int) -> str:
    """The sign's name for a GTSRB class id."""
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < NUM_CLASSES:
        raise ValueError(f"a sign class is a GTSRB class id in 0..{NUM_CLASSES - 1}, got {label!r}")
    return GTSRB_NAMES[label]
