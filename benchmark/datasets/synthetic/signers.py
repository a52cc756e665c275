"""Synthetic signers: body proportions, position in frame, colours, clothes and signing speed.

Every quantity a model could use to recognise a person varies between signers, so validation signers (never
seen in training) test generalisation as the real validation set does.  Lengths are fractions of the frame
height ``H`` or multiples of the shoulder width ``S``; colours are BGR (OpenCV order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SKIN_TONES = [
    (189, 224, 255),
    (173, 205, 241),
    (141, 185, 224),
    (120, 160, 210),
    (94, 134, 198),
    (66, 105, 160),
    (45, 78, 128),
    (35, 58, 95),
]
HAIR = [(20, 20, 25), (30, 45, 70), (40, 70, 110), (90, 150, 200), (150, 150, 155), (35, 60, 140)]
CLOTHES = [
    (25, 25, 25),
    (70, 30, 20),
    (30, 30, 110),
    (40, 70, 30),
    (90, 90, 90),
    (60, 40, 60),
    (120, 80, 40),
    (40, 40, 60),
]
BACKDROPS = [(200, 200, 195), (175, 160, 135), (150, 175, 160), (120, 120, 125), (205, 195, 180), (90, 80, 70)]


@dataclass(frozen=True)
class Signer:
    index: int
    shoulder: float  # S as a fraction of the frame height
    centre_x: float  # mid-shoulder x, fraction of the frame width
    shoulder_y: float  # fraction of the frame height
    torso: float  # shoulder -> hip, in S
    upper_arm: float  # in S
    forearm: float  # in S
    hand: float  # wrist -> middle fingertip, in S
    head: float  # head height, in S
    neck: float  # in S
    speed: float  # signing speed factor (> 1: slower, longer signs)
    skin: tuple
    hair: tuple
    hair_style: int  # 0 short, 1 long, 2 very short
    shirt: tuple
    trousers: tuple
    long_sleeves: bool
    backdrop: tuple
    light_from_left: bool
    dominant_right: bool


def sample_signer(rng: np.random.Generator, index: int) -> Signer:
    pick = lambda seq: seq[int(rng.integers(len(seq)))]
    return Signer(
        index=index,
        shoulder=float(rng.uniform(0.25, 0.31)),
        centre_x=float(rng.uniform(0.40, 0.60)),
        shoulder_y=float(rng.uniform(0.34, 0.40)),
        torso=float(rng.uniform(1.15, 1.35)),
        upper_arm=float(rng.uniform(0.76, 0.86)),
        forearm=float(rng.uniform(0.66, 0.74)),
        hand=float(rng.uniform(0.46, 0.54)),
        head=float(rng.uniform(0.58, 0.68)),
        neck=float(rng.uniform(0.16, 0.24)),
        speed=float(rng.uniform(0.8, 1.25)),
        skin=pick(SKIN_TONES),
        hair=pick(HAIR),
        hair_style=int(rng.integers(3)),
        shirt=pick(CLOTHES),
        trousers=pick(CLOTHES[:3] + CLOTHES[-2:]),
        long_sleeves=bool(rng.random() < 0.7),
        backdrop=pick(BACKDROPS),
        light_from_left=bool(rng.random() < 0.5),
        dominant_right=bool(rng.random() < 0.85),
    )


def sample_signers(seed: int, n: int) -> list[Signer]:
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5167]))
    return [sample_signer(rng, i) for i in range(n)]
