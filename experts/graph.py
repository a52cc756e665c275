"""The 57-joint MediaPipe skeleton graph (REFERENCE.md) and ST-GCN's spatial partitioning.

Joints: 0..14 body = MediaPipe pose indices 0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 23, 24 (nose, left eye
inner/centre/outer, right eye inner/centre/outer, mouth left/right, shoulders, elbows, hips), 15..35 left hand,
36..56 right hand (MediaPipe hand order, wrist first).  "Left" is the signer's left, as MediaPipe labels it.
"""
from __future__ import annotations

import numpy as np

NUM_JOINTS = 57
BODY_POSE_INDICES = (0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 23, 24)
LEFT_HAND, RIGHT_HAND = 15, 36
CENTER = 0  # nose: the skeleton is normalised around it

_BODY_EDGES = [
    (0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6),  # eyes
    (0, 7), (0, 8), (7, 8),  # mouth, tied to the nose so the graph is connected
    (0, 9), (0, 10), (9, 10),  # neck-ish: nose to shoulders, shoulder line
    (9, 11), (10, 12),  # upper arms
    (9, 13), (10, 14), (13, 14),  # torso
    (11, LEFT_HAND), (12, RIGHT_HAND),  # forearms to the hand wrists
]
_HAND_EDGES = [
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (17, 18), (18, 19), (19, 20), (0, 17),
]


def edges() -> list[tuple[int, int]]:
    """Undirected bones of the 57-joint graph."""
    out = list(_BODY_EDGES)
    for base in (LEFT_HAND, RIGHT_HAND):
        out += [(base + a, base + b) for a, b in _HAND_EDGES]
    return out


def flip_permutation() -> np.ndarray:
    """Joint order after a horizontal flip: left and right body parts and hands swap."""
    perm = np.arange(NUM_JOINTS)
    for a, b in ((1, 4), (2, 5), (3, 6), (7, 8), (9, 10), (11, 12), (13, 14)):
        perm[a], perm[b] = b, a
    perm[LEFT_HAND:LEFT_HAND + 21] = np.arange(RIGHT_HAND, RIGHT_HAND + 21)
    perm[RIGHT_HAND:RIGHT_HAND + 21] = np.arange(LEFT_HAND, LEFT_HAND + 21)
    return perm


def hop_distance(num_nodes: int, edge_list, max_hop: int | None = None) -> np.ndarray:
    """Shortest-path hops between joints (BFS); ``inf`` beyond ``max_hop`` or when unreachable."""
    neighbours = [[] for _ in range(num_nodes)]
    for i, j in edge_list:
        neighbours[i].append(j)
        neighbours[j].append(i)
    dist = np.full((num_nodes, num_nodes), np.inf)
    for s in range(num_nodes):
        dist[s, s] = 0
        frontier, d = [s], 0
        while frontier and (max_hop is None or d < max_hop):
            d += 1
            nxt = []
            for u in frontier:
                for v in neighbours[u]:
                    if dist[s, v] == np.inf:
                        dist[s, v] = d
                        nxt.append(v)
            frontier = nxt
    return dist


def normalize_digraph(a: np.ndarray) -> np.ndarray:
    deg = a.sum(0)
    dn = np.zeros_like(a)
    nz = deg > 0
    dn[nz, nz] = 1.0 / deg[nz]
    return a @ dn


def spatial_adjacency(max_hop: int = 1, dilation: int = 1, center: int = CENTER) -> np.ndarray:
    """ST-GCN's "spatial" partitioning: ``[K, V, V]`` with K = root, centripetal, centrifugal subsets
    (Yan et al. 2018).  Closeness to ``center`` uses true graph distances (the original code measured them
    only up to ``max_hop``, which put most joints in the root subset)."""
    n = NUM_JOINTS
    hop = hop_distance(n, edges(), max_hop)
    to_center = hop_distance(n, edges())[:, center]
    valid = range(0, max_hop + 1, dilation)
    adjacency = np.zeros((n, n))
    for h in valid:
        adjacency[hop == h] = 1
    norm = normalize_digraph(adjacency)
    parts = []
    for h in valid:
        root, close, far = np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, n))
        for i in range(n):
            for j in range(n):
                if hop[j, i] == h:
                    if to_center[j] == to_center[i]:
                        root[j, i] = norm[j, i]
                    elif to_center[j] > to_center[i]:
                        close[j, i] = norm[j, i]
                    else:
                        far[j, i] = norm[j, i]
        if h == 0:
            parts.append(root)
        else:
            parts += [root + close, far]
    return np.stack(parts).astype(np.float32)
