"""Writes the synthetic signer's exact joints as a pose-format ``.pose`` file in the MediaPipe Holistic layout.

Components, point names and order are those of pose-format's ``holistic_components()`` (POSE_LANDMARKS 33,
FACE_LANDMARKS 468, LEFT_HAND_LANDMARKS 21, RIGHT_HAND_LANDMARKS 21, POSE_WORLD_LANDMARKS 33), so any reader
of real MediaPipe ``.pose`` files reads these.  They are spelled out here because importing
``pose_format.utils.holistic`` imports mediapipe (seconds per worker process); face limbs are left empty.
Values follow what MediaPipe stores there: x, y in pixels; body z
normalised by the frame width relative to the hips' depth; hand z relative to the wrist; world landmarks in
metres around the hip centre.  The face is not modelled: its points have confidence 0 (masked, i.e. missing).
Body confidence is the visibility: 0.99 inside the frame, 0 outside (the legs below the frame).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.datasets.synthetic.motion import Skeleton
from benchmark.joints import HAND_NAMES as HAND_POINTS
from benchmark.joints import POSE_BODY_NAMES as BODY_POINTS

BODY_LIMBS = [
    (0, 1),
    (0, 4),
    (1, 2),
    (2, 3),
    (3, 7),
    (4, 5),
    (5, 6),
    (6, 8),
    (9, 10),
    (11, 12),
    (11, 13),
    (11, 23),
    (12, 14),
    (12, 24),
    (13, 15),
    (14, 16),
    (15, 17),
    (15, 19),
    (15, 21),
    (16, 18),
    (16, 20),
    (16, 22),
    (17, 19),
    (18, 20),
    (23, 24),
    (23, 25),
    (24, 26),
    (25, 27),
    (26, 28),
    (27, 29),
    (27, 31),
    (28, 30),
    (28, 32),
    (29, 31),
    (30, 32),
]
HAND_LIMBS = [
    (0, 1),
    (0, 5),
    (0, 17),
    (1, 2),
    (2, 3),
    (3, 4),
    (5, 6),
    (5, 9),
    (6, 7),
    (7, 8),
    (9, 10),
    (9, 13),
    (10, 11),
    (11, 12),
    (13, 14),
    (13, 17),
    (14, 15),
    (15, 16),
    (17, 18),
    (18, 19),
    (19, 20),
]
SHOULDER_M = 0.38  # metres: converts the signer's shoulder width for the world landmarks


def holistic_arrays(sk: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """``data [T, 576, 3]`` and ``confidence [T, 576]`` in the Holistic layout."""
    t = sk.body.shape[0]
    w, h = sk.width, sk.height
    body = sk.body.copy()
    inside = (body[..., 0] >= 0) & (body[..., 0] < w) & (body[..., 1] >= 0) & (body[..., 1] < h)
    body_conf = np.where(inside, 0.99, 0.0)
    body[..., 2] = body[..., 2] / w
    face = np.zeros((t, 468, 3))
    hands, hand_conf = [], []
    for hand in (sk.left, sk.right):
        hd = hand.copy()
        hd[..., 2] = (hand[..., 2] - hand[:, :1, 2]) / w
        wr = hand[:, 0]
        ok = (wr[:, 0] >= 0) & (wr[:, 0] < w) & (wr[:, 1] >= 0) & (wr[:, 1] < h)
        hands.append(hd)
        hand_conf.append(np.repeat(ok[:, None], 21, 1).astype(np.float64))
    hip = (sk.body[:, 23] + sk.body[:, 24]) / 2
    world = (sk.body - hip[:, None]) * (SHOULDER_M / sk.shoulder_px)
    data = np.concatenate([body, face, hands[0], hands[1], world], 1).astype(np.float32)
    conf = np.concatenate([body_conf, np.zeros((t, 468)), hand_conf[0], hand_conf[1], body_conf], 1).astype(np.float32)
    return data, conf


def write_pose(path: Path, sk: Skeleton, fps: float = 25.0) -> None:
    from pose_format import Pose
    from pose_format.numpy.pose_body import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

    data, conf = holistic_arrays(sk)
    comp = lambda name, pts, limbs, col: PoseHeaderComponent(
        name=name,
        points=pts,
        limbs=limbs,
        colors=[col],
        point_format="XYZC",
    )
    components = [
        comp("POSE_LANDMARKS", BODY_POINTS, BODY_LIMBS, (255, 0, 0)),
        comp("FACE_LANDMARKS", [str(i) for i in range(468)], [], (128, 0, 0)),
        comp("LEFT_HAND_LANDMARKS", HAND_POINTS, HAND_LIMBS, (0, 255, 0)),
        comp("RIGHT_HAND_LANDMARKS", HAND_POINTS, HAND_LIMBS, (0, 0, 255)),
        comp("POSE_WORLD_LANDMARKS", BODY_POINTS, BODY_LIMBS, (255, 0, 0)),
    ]
    header = PoseHeader(
        version=0.2, dimensions=PoseHeaderDimensions(width=sk.width, height=sk.height, depth=0), components=components
    )
    body = NumPyPoseBody(fps=fps, data=data[:, None], confidence=conf[:, None])
    with open(path, "wb") as f:
        Pose(header, body).write(f)
