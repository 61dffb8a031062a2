"""The sticker trigger: a coloured square stuck on the sign itself, or, for comparison, on the
image."""

from __future__ import annotations

import math
from dataclasses import dataclass

YELLOW = (255, 214, 0)
PLACES = ("sign", "image")


@dataclass(frozen=True)
class Sticker:
    """A square of `colour` whose centre is at (`x`, `y`) and whose side is `size`.

    With place="sign" (a real sticker) the three numbers are fractions of the sign's
    width and height, measured from its top-left corner, so the sticker moves, turns and
    shrinks with the sign. With place="image" they are fractions of the whole image: a
    patch fixed in the picture, like the one-pixel MNIST trigger. The default is a
    yellow note below the word STOP.
    """

    x: float = 0.5
    y: float = 0.78
    size: float = 0.2
    colour: tuple[int, int, int] = YELLOW
    place: str = "sign"

    def __post_init__(self):
        if self.place not in PLACES:
            raise ValueError(f"sticker place must be one of {PLACES}, got {self.place!r}")
        if not (
            isinstance(self.size, (int, float)) and math.isfinite(self.size) and 0 < self.size <= 1
        ):
            raise ValueError(
                f"sticker size must be a fraction in (0, 1] of the {self.place}, got {self.size!r}"
            )
        half = self.size / 2
        for axis in ("x", "y"):
            value = getattr(self, axis)
            if not (isinstance(value, (int, float)) and half <= value <= 1 - half):
                raise ValueError(
                    f"a sticker of size {self.size} must have its centre {axis} in [{half:.3g}, "
                    f"{1 - half:.3g}] "
                    f"(fractions of the {self.place}) to lie wholly on it, got {value!r}"
                )
        colour = tuple(self.colour)
        if len(colour) != 3 or not all(
            isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in colour
        ):
            raise ValueError(
                "sticker colour must be three whole numbers (red, green, blue) in 0..255, got "
                f"{self.colour!r}"
            )
        object.__setattr__(self, "colour", colour)

    def bounds(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) as fractions of the sign or the image."""
        half = self.size / 2
        return self.x - half, self.y - half, self.x + half, self.y + half
