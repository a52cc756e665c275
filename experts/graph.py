"""The bones of the 57-joint skeleton (layout in :mod:`benchmark.joints`) and ST-GCN's spatial partitioning.

Body joints 0..14 are nose, left eye inner/centre/outer, right eye inner/centre/outer, mouth left/right,
shoulders, elbows, hips; then the left and the right hand in MediaPipe hand order, wrist first.  The horizontal
flip of the augmentation uses the same pairs of sides, so it lives here too.
"""

from __future__ import annotations

import numpy as np

from benchmark.joints import HAND, SKELETON_JOINTS, SKELETON_LEFT_HAND, SKELETON_NOSE, SKELETON_RIGHT_HAND

_BODY_EDGES = [
    (0, 1),
    (1, 2),
    (2, 3),
    (0, 4),
    (4, 5),
    (5, 6),  # eyes
    (0, 7),
    (0, 8),
    (7, 8),  # mouth, tied to the nose so the graph is connected
    (0, 9),
    (0, 10),
    (9, 10),  # neck-ish: nose to shoulders, shoulder line
    (9, 11),
    (10, 12),  # upper arms
    (9, 13),
    (10, 14),
    (13, 14),  # torso
    (11, SKELETON_LEFT_HAND),
    (12, SKELETON_RIGHT_HAND),  # forearms to the hand wrists
]
_HAND_EDGES = [
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (0, 5),
    (5, 6),
    (6, 7),
    (7, 8),
    (5, 9),
    (9, 10),
    (10, 11),
    (11, 12),
    (9, 13),
    (13, 14),
    (14, 15),
    (15, 16),
    (13, 17),
    (17, 18),
    (18, 19),
    (19, 20),
    (0, 17),
]


def edges() -> list[tuple[int, int]]:
    """Undirected bones of the 57-joint graph."""
    out = list(_BODY_EDGES)
    for base in (SKELETON_LEFT_HAND, SKELETON_RIGHT_HAND):
        out += [(base + a, base + b) for a, b in _HAND_EDGES]
    return out


def flip_permutation() -> np.ndarray:
    """Joint order after a horizontal flip: left and right body parts and hands swap."""
    perm = np.arange(SKELETON_JOINTS)
    for a, b in ((1, 4), (2, 5), (3, 6), (7, 8), (9, 10), (11, 12), (13, 14)):
        perm[a], perm[b] = b, a
    perm[SKELETON_LEFT_HAND : SKELETON_LEFT_HAND + HAND] = np.arange(SKELETON_RIGHT_HAND, SKELETON_RIGHT_HAND + HAND)
    perm[SKELETON_RIGHT_HAND : SKELETON_RIGHT_HAND + HAND] = np.arange(SKELETON_LEFT_HAND, SKELETON_LEFT_HAND + HAND)
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


def spatial_adjacency(max_hop: int = 1, dilation: int = 1, center: int = SKELETON_NOSE) -> np.ndarray:
    """ST-GCN's "spatial" partitioning: ``[K, V, V]`` with K = root, centripetal, centrifugal subsets
    (Yan et al. 2018).  Closeness to ``center`` uses true graph distances (the original code measured them
    only up to ``max_hop``, which put most joints in the root subset).  The centre is the nose, which the
    skeleton modality normalises around."""
    n = SKELETON_JOINTS
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
