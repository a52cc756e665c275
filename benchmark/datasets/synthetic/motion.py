"""Kinematics of the synthetic signer: timeline -> per-frame 3D joints (MediaPipe Holistic layout).

Hands are driven in *hand-side* coordinates (see vocabulary.py) relative to the mid-shoulder point, in
shoulder widths; transitions are minimum-jerk; a little smooth noise and body sway keep every frame alive.
Elbows come from two-link inverse kinematics; 21 hand joints from a finger model (per-finger MCP and
PIP flexion, spread, thumb opposition).  Image coordinates: x right, y down, z away from the camera, pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.datasets.synthetic.signers import Signer
from benchmark.datasets.synthetic.timeline import Item
from benchmark.datasets.synthetic.vocabulary import (
    BASE_ORIENTATION,
    HANDSHAPES,
    LOCATIONS,
    ORIENTATIONS,
    REST_ORIENTATION,
    REST_SHAPE,
    SignSpec,
    shape_vector,
    trajectory,
)

# finger model (hand lengths): MCP base (x toward thumb, y toward fingers), segment lengths, spread angles
_MCP = np.array([[0.11, 0.42], [0.03, 0.44], [-0.05, 0.42], [-0.12, 0.38]])
_SEG = np.array([[0.21, 0.13, 0.10], [0.24, 0.15, 0.11], [0.22, 0.14, 0.10], [0.17, 0.10, 0.09]])
_SPREAD0 = np.array([0.05, 0.0, -0.05, -0.10])
_SPREAD1 = np.array([0.18, 0.04, -0.12, -0.25])
_THUMB_CMC = np.array([0.09, 0.08, 0.02])
_THUMB_SEG = np.array([0.20, 0.15, 0.12])
_THUMB_EXT = np.array([0.8, 0.6, 0.05]) / np.linalg.norm([0.8, 0.6, 0.05])
_THUMB_OPP = np.array([-0.35, 0.55, 0.75]) / np.linalg.norm([-0.35, 0.55, 0.75])
_THUMB_BEND = np.array([-0.5, -0.1, 0.85])
PALM_CENTRE = 0.35  # the location target is this far (hand lengths) from the wrist along the fingers

_ANCHORS = {  # body points in hand-side coordinates (side, down, depth), S units, functions of the signer
    "chest": lambda s: np.array([0.0, 0.35, 0.0]),
    "chin": lambda s: np.array([0.0, -s.neck - 0.03, -0.2]),
    "forehead": lambda s: np.array([0.0, -s.neck - 0.8 * s.head, -0.25]),
    "cheek": lambda s: np.array([0.18, -s.neck - 0.35 * s.head, -0.15]),
}
REST_POS = np.array([0.12, 1.15, -0.4])
BASE_POS = np.array([0.08, 0.75, -0.55])


@dataclass
class HandTrack:
    """Per-frame state of one hand: palm-centre position, finger direction, palm normal, handshape vector."""

    pos: np.ndarray  # [T, 3]
    fdir: np.ndarray  # [T, 3]
    pnorm: np.ndarray  # [T, 3]
    shape: np.ndarray  # [T, 11]

    @classmethod
    def empty(cls, t: int) -> HandTrack:
        return cls(np.zeros((t, 3)), np.zeros((t, 3)), np.zeros((t, 3)), np.zeros((t, 11)))

    def set(self, sl: slice, pos, fdir, pnorm, shape) -> None:
        self.pos[sl], self.fdir[sl], self.pnorm[sl], self.shape[sl] = pos, fdir, pnorm, shape

    def state(self, i: int):
        return self.pos[i], self.fdir[i], self.pnorm[i], self.shape[i]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _rest_state():
    return (
        REST_POS,
        np.asarray(REST_ORIENTATION[0], float),
        np.asarray(REST_ORIENTATION[1], float),
        shape_vector(REST_SHAPE),
    )


def _rotate(v: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues rotation of vectors ``v [n,3]`` about unit ``axis [n,3]`` by ``angle [n]``."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return v * c + np.cross(axis, v) * s + axis * np.sum(axis * v, -1, keepdims=True) * (1 - c)


def _sign_tracks(spec: SignSpec, n: int, signer: Signer, rng: np.random.Generator):
    """Dense states of the dominant and the non-dominant hand for one sign performance of ``n`` frames."""
    u = np.linspace(0.0, 1.0, n)
    amp = spec.amplitude * rng.uniform(0.9, 1.1)
    off, roll, opening = trajectory(spec.trajectory, u, amp)
    if spec.arrangement == "base":  # the dominant hand acts just above the passive hand, across the midline
        anchor = BASE_POS * np.array([-1.0, 1.0, 1.0]) + np.array([0.0, -0.28, 0.0])
    else:
        anchor_name, *loc = LOCATIONS[spec.location]
        anchor = _ANCHORS[anchor_name](signer) + np.asarray(loc, float)
    pos = anchor + rng.normal(0, 0.03, 3) + off
    f0, n0 = (np.asarray(x, float) for x in ORIENTATIONS[spec.orientation])
    fdir = np.repeat(_unit(f0)[None], n, 0)
    pnorm = _rotate(np.repeat(_unit(n0)[None], n, 0), fdir, roll)
    shape = np.repeat(shape_vector(HANDSHAPES[spec.handshape])[None], n, 0)
    if opening.any():
        shape = shape * (1 - opening[:, None]) + shape_vector(HANDSHAPES["5"])[None] * opening[:, None]
    dom = (pos, fdir, pnorm, shape)
    if spec.arrangement == "sym":
        non = dom
    elif spec.arrangement == "alt":
        off2, roll2, _ = trajectory(spec.trajectory, 1.0 - u, amp)
        non = (pos - off + off2, fdir, _rotate(np.repeat(_unit(n0)[None], n, 0), fdir, roll2), shape)
    elif spec.arrangement == "base":
        bf, bn = (np.asarray(x, float) for x in BASE_ORIENTATION)
        non = (
            np.repeat(BASE_POS[None], n, 0),
            np.repeat(_unit(bf)[None], n, 0),
            np.repeat(_unit(bn)[None], n, 0),
            np.repeat(shape_vector(HANDSHAPES["B"])[None], n, 0),
        )
    else:
        non = None  # stays at rest
    return dom, non


def hand_tracks(items: list[Item], vocab: list[SignSpec], signer: Signer, rng: np.random.Generator):
    """Dominant and non-dominant :class:`HandTrack` for a whole timeline."""
    t = sum(i.frames for i in items)
    dom, non = HandTrack.empty(t), HandTrack.empty(t)
    rest = _rest_state()
    moves = []
    f = 0
    last_end = [rest, rest]
    for item in items:
        sl = slice(f, f + item.frames)
        if item.kind == "move":
            moves.append(sl)
        elif item.kind in ("rest", "pause"):
            for k, track in enumerate((dom, non)):
                st = rest if item.kind == "rest" else tuple(0.5 * (a + b) for a, b in zip(last_end[k], rest))
                st = (st[0], _unit(st[1]), _unit(st[2]), st[3])
                track.set(sl, *st)
                last_end[k] = st
        else:
            spec = vocab[item.sign]
            d, nd = _sign_tracks(spec, item.frames, signer, rng)
            dom.set(sl, *d)
            if nd is None:
                nd = tuple(np.repeat(np.asarray(x)[None], item.frames, 0) for x in rest)
            non.set(sl, *nd)
            last_end = [tuple(x[-1] for x in d), tuple(x[-1] for x in nd)]
        f += item.frames
    for sl in moves:
        m = sl.stop - sl.start
        x = np.arange(1, m + 1) / (m + 1)
        w = (10 * x**3 - 15 * x**4 + 6 * x**5)[:, None]
        for track in (dom, non):
            a = track.state(sl.start - 1) if sl.start > 0 else rest
            b = track.state(sl.stop) if sl.stop < t else rest
            pos, fdir, pnorm, shape = (np.asarray(p)[None] * (1 - w) + np.asarray(q)[None] * w for p, q in zip(a, b))
            lift = np.sin(np.pi * x)[:, None] * np.array([0.0, 0.0, -0.08])  # hands travel slightly forward
            track.set(sl, pos + lift, _unit(fdir), _unit(pnorm), shape)
    for track in (dom, non):
        track.pos += smooth_noise(rng, t, 3, 0.012, 6.0)
        track.fdir = _unit(track.fdir + smooth_noise(rng, t, 3, 0.03, 8.0))
        track.pnorm = _unit(track.pnorm - track.fdir * np.sum(track.pnorm * track.fdir, -1, keepdims=True))
    return dom, non


def smooth_noise(rng: np.random.Generator, t: int, d: int, amp: float, sigma: float) -> np.ndarray:
    """Gaussian-filtered noise ``[t, d]`` with standard deviation about ``amp``."""
    r = int(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= np.sqrt(np.sum(k**2))
    z = rng.normal(0.0, amp, (t + 2 * r, d))
    return np.stack([np.convolve(z[:, j], k, mode="valid") for j in range(d)], 1)[:t]


def hand_local(shape: np.ndarray) -> np.ndarray:
    """Handshape vectors ``[T, 11]`` -> 21 joints ``[T, 21, 3]`` in hand units (x thumb side, y fingers, z palm)."""
    t = shape.shape[0]
    out = np.zeros((t, 21, 3))
    opp, tfl = shape[:, 0:1], shape[:, 1:2]
    d1 = _unit((1 - opp) * _THUMB_EXT + opp * _THUMB_OPP)
    d2 = _unit(d1 + 0.9 * tfl * _THUMB_BEND)
    d3 = _unit(d2 + 0.9 * tfl * _THUMB_BEND)
    out[:, 1] = _THUMB_CMC
    out[:, 2] = out[:, 1] + _THUMB_SEG[0] * d1
    out[:, 3] = out[:, 2] + _THUMB_SEG[1] * d2
    out[:, 4] = out[:, 3] + _THUMB_SEG[2] * d3
    spread = shape[:, 10:11]
    for k in range(4):
        mcp, pip = shape[:, 2 + 2 * k], shape[:, 3 + 2 * k]
        phi = _SPREAD0[k] + _SPREAD1[k] * spread[:, 0]
        th1 = mcp * 1.45
        th2 = th1 + pip * 1.8
        th3 = th2 + pip * 1.1
        base = 5 + 4 * k
        out[:, base, 0], out[:, base, 1] = _MCP[k]
        p = out[:, base]
        for j, th in enumerate((th1, th2, th3)):
            d = np.stack([np.sin(phi) * np.cos(th), np.cos(phi) * np.cos(th), np.sin(th)], -1)
            p = p + _SEG[k, j] * d
            out[:, base + 1 + j] = p
    return out


def two_link_ik(shoulder: np.ndarray, target: np.ndarray, a: float, b: float, pole: np.ndarray):
    """Elbow and (reachable) wrist for upper arm ``a`` and forearm ``b``; the elbow bends toward ``pole``."""
    v = target - shoulder
    d = np.linalg.norm(v, axis=-1, keepdims=True)
    dc = np.clip(d, abs(a - b) + 1e-3, 0.985 * (a + b))
    n = v / np.maximum(d, 1e-9)
    wrist = shoulder + n * dc
    cos_a = (a * a + dc * dc - b * b) / (2 * a * dc)
    sin_a = np.sqrt(np.clip(1 - cos_a**2, 0, 1))
    m = pole - n * np.sum(pole * n, -1, keepdims=True)
    m = _unit(m)
    elbow = shoulder + a * (cos_a * n + sin_a * m)
    return elbow, wrist


@dataclass
class Skeleton:
    """Everything the renderer and the pose writer need, per frame, in pixels (z: pixels, toward the back)."""

    body: np.ndarray  # [T, 33, 3] MediaPipe pose landmarks
    left: np.ndarray  # [T, 21, 3] the signer's left hand
    right: np.ndarray  # [T, 21, 3]
    head: np.ndarray  # [T, 3] centre x, y and yaw (rad)
    neck_top: np.ndarray  # [T, 2]
    head_size: tuple  # (height, width) px
    shoulder_px: float
    hand_px: float
    width: int
    height: int


def build_skeleton(
    dom: HandTrack, non: HandTrack, signer: Signer, width: int, height: int, rng: np.random.Generator
) -> Skeleton:
    """The signer's joints in every frame: the body swaying and breathing, each arm reaching its hand's track
    (two-link IK), the head (:func:`_head`); the order of ``rng`` draws is part of the dataset's content."""
    t = dom.pos.shape[0]
    S = signer.shoulder * height
    Lh = signer.hand * S
    ts = np.arange(t) / 25.0
    sway = smooth_noise(rng, t, 2, 0.02 * S, 20.0)
    mid = np.stack([np.full(t, signer.centre_x * width), np.full(t, signer.shoulder_y * height)], 1) + sway
    mid[:, 1] += 0.006 * S * np.sin(2 * np.pi * ts / 4.0)  # breathing
    right_is_dom = signer.dominant_right
    hands = {}
    body = np.zeros((t, 33, 3))
    for side_name, track in (("right", dom if right_is_dom else non), ("left", non if right_is_dom else dom)):
        sgn = -1.0 if side_name == "right" else 1.0
        mir = np.array([sgn, 1.0, 1.0])
        sh = np.concatenate([mid + np.array([sgn * 0.5 * S, 0.04 * S]), np.zeros((t, 1))], 1)
        palm = np.concatenate([mid, np.zeros((t, 1))], 1) + track.pos * mir * S
        U = _unit(track.fdir * mir)
        N = _unit(track.pnorm * mir)
        X = np.cross(U, N) if side_name == "right" else np.cross(N, U)
        wrist_target = palm - PALM_CENTRE * Lh * U
        pole = np.array([sgn * 0.6, 1.0, 0.35])[None].repeat(t, 0)
        elbow, wrist = two_link_ik(sh, wrist_target, signer.upper_arm * S, signer.forearm * S, pole)
        loc = hand_local(track.shape)  # [T, 21, 3]
        joints = wrist[:, None] + Lh * (
            loc[..., 0:1] * X[:, None] + loc[..., 1:2] * U[:, None] + loc[..., 2:3] * N[:, None]
        )
        hands[side_name] = joints
        i = 0 if side_name == "left" else 1  # MediaPipe: odd indices left, even right (11 left shoulder, 12 right)
        body[:, 11 + i], body[:, 13 + i], body[:, 15 + i] = sh, elbow, wrist
        body[:, 17 + i], body[:, 19 + i], body[:, 21 + i] = joints[:, 17], joints[:, 5], joints[:, 2]
        hip = np.concatenate([mid + np.array([sgn * 0.37 * S, signer.torso * S]), np.zeros((t, 1))], 1)
        body[:, 23 + i] = hip
        for j, (dy, dx) in enumerate(((1.15, 0.40), (2.2, 0.40), (2.3, 0.40), (2.4, 0.48))):
            body[:, 25 + 2 * j + i] = hip + np.array([sgn * (dx - 0.37) * S * 0.3, dy * S, 0.0])
    hh, hw = signer.head * S, 0.78 * signer.head * S
    neck_top = mid - np.array([0.0, signer.neck * S])
    hc = _head(body, neck_top, hh, hw, S, rng)
    return Skeleton(body, hands["left"], hands["right"], hc, neck_top, (hh, hw), S, Lh, width, height)


def _head(body: np.ndarray, neck_top: np.ndarray, hh: float, hw: float, S: float, rng: np.random.Generator):
    """The head's track ``[T, 3]`` (centre x, y and yaw: a small yaw and nod), its face joints written into
    ``body`` (features on a cylinder turning with the yaw)."""
    t = neck_top.shape[0]
    yaw = smooth_noise(rng, t, 1, 0.08, 15.0)[:, 0]
    nod = smooth_noise(rng, t, 1, 0.02 * S, 12.0)[:, 0]
    hc = np.stack([neck_top[:, 0] + 0.5 * hw * np.sin(yaw) * 0.3, neck_top[:, 1] - 0.5 * hh + nod, yaw], 1)
    face = {
        0: (0.0, 0.12, -0.45),
        1: (0.13, -0.03, -0.40),
        2: (0.22, -0.03, -0.38),
        3: (0.31, -0.03, -0.33),
        4: (-0.13, -0.03, -0.40),
        5: (-0.22, -0.03, -0.38),
        6: (-0.31, -0.03, -0.33),
        7: (0.5, 0.02, 0.0),
        8: (-0.5, 0.02, 0.0),
        9: (0.12, 0.28, -0.38),
        10: (-0.12, 0.28, -0.38),
    }
    for j, (fx, fy, fz) in face.items():
        ang = np.arcsin(np.clip(2 * fx, -1, 1)) + yaw  # features on a cylinder turning with the yaw
        body[:, j, 0] = hc[:, 0] + 0.5 * hw * np.sin(ang)
        body[:, j, 1] = hc[:, 1] + fy * hh
        body[:, j, 2] = fz * hw - 0.5 * hw * (np.cos(ang) - np.cos(np.arcsin(np.clip(2 * fx, -1, 1))))
    return hc
