"""Every sign of a synthetic video, query signs and non-query ("distractor") signs alike: the ground truth of
``labels: sign``, the one-class segmentation task.

The generator's ground truth holds the query signs only; the other signs are in each video's timeline.  The
plan is deterministic and cheap (no pixels), so it is made again from the settings ``SYNTHETIC.json``
records, rather than written as one more file: folders generated before this setting existed work too.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.errors import DataError


def every_sign(root: Path) -> dict[str, list[tuple[int, int, int]]]:
    """``{video_id: [(0, start_ms, end_ms), ...]}`` for every video of the folder, in time order: each sign
    of its timeline, on the 25 fps planning grid as the query ground truth is (``start .. last frame``)."""
    from benchmark.datasets.synthetic.writer import FPS, plan

    meta_path = Path(root) / "SYNTHETIC.json"
    try:
        settings = dict(json.loads(meta_path.read_text(encoding="utf-8"))["settings"])
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{meta_path}: cannot read the generator's settings ({e}); generate the folder again") from None
    sizes = {k: settings.pop(k) for k in ("val_videos", "test_videos", "eval_seconds") if k in settings}
    ms = 1000 // FPS
    signs: dict[str, list[tuple[int, int, int]]] = {}
    for job in plan(**settings, **sizes)["jobs"]:
        frame, rows = 0, []
        for item in job["items"]:
            if item.kind == "sign":
                rows.append((0, frame * ms, (frame + item.frames - 1) * ms))
            frame += item.frames
        signs[job["video_id"]] = rows
    return signs
