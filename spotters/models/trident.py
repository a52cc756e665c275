"""TriDet's Trident head (Shi et al., CVPR 2023), simplified: boundary distances as distributions over bins.

TriDet predicts each boundary distance not as one number but as a distribution over ``bins`` integer distances
``0 .. bins - 1`` (level units), decoded by its expectation, so a blurry boundary is averaged instead of
regressed.  The distribution for the start of point ``t`` combines two branches: a start-boundary response of
the neighbouring point ``t - b`` and a relative ("centre-offset") logit of ``t`` itself for bin ``b``, softmaxed
over ``b``; the end uses the neighbour ``t + b``.  Implemented here as in the paper except:

* one regression tower emits all three branches (``2 bins`` relative logits, the start and the end responses;
  TriDet has separate start, end and centre-offset towers);
* responses outside the video are 0 (zero padding), so a point may still put mass beyond the video's ends;
* no per-level scale: the expectation times the level's stride gives level-0 clips directly.

The loss is the DIoU on the expected distances (as TriDet's IoU loss on its decoded distances); there is no
extra loss on the bins.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def trident_distances(r: torch.Tensor, m: torch.Tensor, bins: int) -> torch.Tensor:
    """Expected start and end distances in level units: ``r [B, 2 bins + 2, T]`` (start logits, end logits,
    start response, end response), ``m [B, 1, T]`` -> ``[B, 2, T]``."""
    rel_start, rel_end = r[:, :bins].transpose(1, 2), r[:, bins : 2 * bins].transpose(1, 2)  # [B, T, bins]
    response = r[:, 2 * bins :] * m  # [B, 2, T]: 0 at padded clips, like the zero padding beyond the video
    before = F.pad(response[:, 0], (bins - 1, 0)).unfold(-1, bins, 1).flip(-1)  # [B, T, bins]: start[t - b]
    after = F.pad(response[:, 1], (0, bins - 1)).unfold(-1, bins, 1)  # [B, T, bins]: end[t + b]
    b = torch.arange(bins, device=r.device, dtype=r.dtype)
    start = (F.softmax(rel_start + before, dim=-1) * b).sum(-1)  # [B, T]
    end = (F.softmax(rel_end + after, dim=-1) * b).sum(-1)  # [B, T]
    return torch.stack([start, end], dim=1)  # [B, 2, T]
