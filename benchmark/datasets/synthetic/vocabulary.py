"""The synthetic sign vocabulary: each sign is a combination of handshape (+ palm orientation), location
relative to the body, hand trajectory and hand arrangement (one-handed, two-handed symmetric, two-handed
alternating, dominant hand over a passive base hand), like the phonological parameters of real signs.

Query signs (the classes) and non-query signs (background "distractors" performed between them) come from
the same space; any two of them differ in at least two of the four parameters, so every class is learnable
but shares handshapes, locations and movements with others and with the background (no shortcut cue).
Units: lengths in shoulder widths ``S``; hand-side coordinates ``(side, down, depth)`` where ``side`` > 0 points
to the hand's own (outer) side, ``down`` is image-down and ``depth`` is away from the camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# handshape -> per finger (index, middle, ring, pinky) (mcp_flex, pip_flex) in [0, 1]; thumb (opposition, flex);
# spread in [0, 1].  Flattened to a vector of 11 numbers:
# [th_opp, th_flex, i_m, i_p, m_m, m_p, r_m, r_p, p_m, p_p, spread].
_EXT, _CURL = (0.0, 0.0), (1.0, 1.0)
HANDSHAPES: dict[str, tuple] = {
    "B": ((0.9, 0.3), _EXT, _EXT, _EXT, _EXT, 0.0),
    "5": ((0.0, 0.0), _EXT, _EXT, _EXT, _EXT, 1.0),
    "A": ((0.15, 0.1), _CURL, _CURL, _CURL, _CURL, 0.0),
    "S": ((1.0, 0.6), _CURL, _CURL, _CURL, _CURL, 0.0),
    "1": ((1.0, 0.6), _EXT, _CURL, _CURL, _CURL, 0.0),
    "V": ((1.0, 0.6), _EXT, _EXT, _CURL, _CURL, 1.0),
    "W": ((1.0, 0.7), _EXT, _EXT, _EXT, _CURL, 1.0),
    "L": ((0.0, 0.0), _EXT, _CURL, _CURL, _CURL, 0.4),
    "Y": ((0.0, 0.0), _CURL, _CURL, _CURL, _EXT, 0.6),
    "C": ((0.35, 0.2), (0.35, 0.5), (0.35, 0.5), (0.35, 0.5), (0.35, 0.5), 0.15),
    "O": ((0.8, 0.5), (0.55, 0.8), (0.55, 0.8), (0.55, 0.8), (0.55, 0.8), 0.0),
    "claw": ((0.2, 0.5), (0.05, 0.95), (0.05, 0.95), (0.05, 0.95), (0.05, 0.95), 1.0),
}
REST_SHAPE = ((0.5, 0.2), (0.3, 0.35), (0.3, 0.4), (0.3, 0.45), (0.3, 0.5), 0.2)


def shape_vector(spec: tuple) -> np.ndarray:
    thumb, i, m, r, p, spread = spec
    return np.array([*thumb, *i, *m, *r, *p, spread], dtype=np.float64)


# palm orientation: (finger direction, palm normal) in hand-side coordinates
ORIENTATIONS = {
    "up-front": ((0.0, -1.0, 0.0), (0.0, 0.0, -1.0)),  # fingers up, palm to the camera
    "up-in": ((0.0, -1.0, 0.0), (-1.0, 0.0, 0.0)),  # fingers up, palm to the midline
    "fwd-down": ((0.0, -0.3, -1.0), (0.0, 1.0, 0.0)),  # fingers to the camera, palm down
    "in-front": ((-1.0, -0.3, 0.0), (0.0, 0.0, -1.0)),  # fingers to the midline, palm to the camera
    "up-body": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),  # fingers up, palm to the body
    "in-down": ((-1.0, 0.0, -0.3), (0.0, 1.0, 0.0)),  # fingers to the midline, palm down
}
REST_ORIENTATION = ((-1.0, 0.2, -0.2), (0.0, -0.6, 0.8))  # hands resting in front of the belly
BASE_ORIENTATION = ((-1.0, 0.0, -0.5), (0.0, -1.0, 0.0))  # passive flat hand, palm up

# location -> (anchor, side, down, depth): anchor is a body point, offsets in S.  Palm centre target.
LOCATIONS = {
    "neutral": ("chest", 0.35, 0.45, -0.65),
    "chest": ("chest", 0.15, 0.1, -0.3),
    "chin": ("chin", 0.05, 0.05, -0.3),
    "forehead": ("forehead", 0.1, 0.0, -0.3),
    "cheek": ("cheek", 0.1, 0.0, -0.2),
    "shoulder-opp": ("chest", -0.35, -0.05, -0.3),
    "belly": ("chest", 0.15, 0.85, -0.4),
    "side-high": ("chest", 0.9, -0.55, -0.3),
    "front-low": ("chest", 0.2, 0.9, -0.85),
}

TRAJECTORIES = ("hold", "down", "up", "out", "forward", "circle", "tap", "arc", "shake", "zigzag", "twist", "open")
ARRANGEMENTS = ("one", "one", "sym", "alt", "base")  # one-handed twice as likely, as in sign languages


def trajectory(name: str, u: np.ndarray, amp: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets ``[n, 3]`` (S units, hand-side coords), roll angle ``[n]`` (rad) and handshape opening ``[n]``."""
    n = len(u)
    off = np.zeros((n, 3))
    roll = np.zeros(n)
    opening = np.zeros(n)
    tau = 2 * np.pi
    s = 0.5 - 0.5 * np.cos(np.pi * u)  # smooth 0 -> 1
    if name == "hold":
        off[:, 1] = 0.04 * np.sin(tau * u)
    elif name == "down":
        off[:, 1] = amp * (-0.2 + 0.4 * s)
    elif name == "up":
        off[:, 1] = amp * (0.2 - 0.4 * s)
    elif name == "out":
        off[:, 0] = amp * (-0.15 + 0.45 * s)
    elif name == "forward":
        off[:, 2] = -amp * 0.45 * s
        off[:, 1] = amp * 0.1 * s
    elif name == "circle":
        off[:, 0] = amp * 0.18 * np.sin(tau * u)
        off[:, 1] = amp * 0.18 * (1 - np.cos(tau * u))
    elif name == "tap":
        off[:, 2] = amp * 0.12 * (1 - np.cos(2 * tau * u))
    elif name == "arc":
        off[:, 0] = amp * (-0.25 + 0.5 * s)
        off[:, 1] = -amp * 0.25 * np.sin(np.pi * u)
    elif name == "shake":
        off[:, 0] = amp * 0.1 * np.sin(3 * tau * u)
    elif name == "zigzag":
        off[:, 0] = amp * 0.12 * np.sin(2 * tau * u)
        off[:, 1] = amp * (-0.2 + 0.4 * u)
    elif name == "twist":
        roll = 0.9 * np.sin(1.5 * tau * u)
    elif name == "open":
        opening = s
        off[:, 2] = -amp * 0.15 * s
    else:
        raise ValueError(f"unknown trajectory {name!r}")
    return off, roll, opening


@dataclass(frozen=True)
class SignSpec:
    """One sign of the vocabulary; ``length_ms`` is its typical (median) duration."""

    handshape: str
    orientation: str
    location: str
    trajectory: str
    arrangement: str
    amplitude: float
    length_ms: float

    @property
    def factors(self) -> tuple[str, str, str, str]:
        return (self.handshape, self.location, self.trajectory, self.arrangement)

    @property
    def gloss(self) -> str:
        return f"{self.arrangement}-{self.handshape}-{self.location}-{self.trajectory}".upper()


def sample_vocabulary(rng: np.random.Generator, n: int, min_diff: int = 2) -> list[SignSpec]:
    """``n`` signs, pairwise differing in at least ``min_diff`` of (handshape, location, trajectory, arrangement)."""
    shapes, locs = list(HANDSHAPES), list(LOCATIONS)
    out: list[SignSpec] = []
    for _ in range(200000):
        if len(out) == n:
            break
        arr = ARRANGEMENTS[rng.integers(len(ARRANGEMENTS))]
        spec = SignSpec(
            handshape=shapes[rng.integers(len(shapes))],
            orientation=list(ORIENTATIONS)[rng.integers(len(ORIENTATIONS))],
            location="neutral" if arr == "base" else locs[rng.integers(len(locs))],
            trajectory=TRAJECTORIES[rng.integers(len(TRAJECTORIES))],
            arrangement=arr,
            amplitude=float(rng.uniform(0.8, 1.25)),
            length_ms=float(np.clip(470.0 * np.exp(rng.normal(0.0, 0.28)), 200.0, 1000.0)),
        )
        if all(sum(a != b for a, b in zip(spec.factors, o.factors)) >= min_diff for o in out):
            out.append(spec)
    if len(out) < n:
        raise ValueError(f"cannot draw {n} distinct synthetic signs (the parameter space is too small)")
    return out
