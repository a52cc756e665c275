"""``bench spot``'s per-segment alternatives (``--candidates``) and ranges (``--start/--end``), unit by unit; the
command runs them end to end in ``tests/test_spot.py``."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.engine.clips import ClipSpec
from benchmark.errors import BenchError


def test_alternatives_rank_the_other_classes_by_their_mean_probability_over_the_segment():
    from benchmark.spot.candidates import alternatives, covered_clips

    clips = ClipSpec(8, 8, 0, 25.0)  # clip t: frames 8t .. 8t+7, 320 ms each
    probs = np.full((6, 5), 0.05)
    probs[:, 0] = 0.5
    probs[2:4, 1] = [0.6, 0.2]  # class 0 (column 1): the segment's own, left out
    probs[2:4, 3] = [0.1, 0.5]  # class 2: mean 0.3
    probs[2:4, 4] = [0.3, 0.2]  # class 3: mean 0.25
    probs[5, 2] = 0.9  # class 1: high outside the segment only
    segment = [0, 640, 1240, 0.7]  # frames 16 .. 31: clips 2 .. 3
    assert covered_clips(clips, 640, 1240, 6) == (2, 3)
    (alts,) = alternatives(probs, [segment], clips, 3)
    assert [c for c, _ in alts] == [2, 3] and alts[0][1] == pytest.approx(0.3) and alts[1][1] == pytest.approx(0.25)
    assert alternatives(probs, [segment], clips, 1) == [[]]
    assert covered_clips(clips, 99_000, 99_040, 6) == (5, 5)  # past the end: the last clip


def test_times_parse_as_seconds_or_clock_and_a_range_must_go_forward():
    from benchmark.spot.ranges import check_range, parse_time

    assert parse_time("90.5", "--start") == 90_500
    assert parse_time("1:30.5", "--start") == 90_500
    assert parse_time("01:00:02", "--end") == 3_602_000
    assert parse_time(None, "--end") is None
    for bad in ("abc", "-3", "1:2:3:4", ""):
        with pytest.raises(BenchError, match="--start"):
            parse_time(bad, "--start")
    with pytest.raises(BenchError, match="--end .* after --start"):
        check_range(5000, 4000)


def test_a_pose_part_keeps_the_range_and_says_where_it_starts(tmp_path):
    from pose_format import Pose

    from benchmark.interfaces import VideoRecord
    from benchmark.spot.ranges import cut, shifted

    try:
        from tests.test_datasets_elan import write_pose
    except ImportError:  # pragma: no cover
        from test_datasets_elan import write_pose

    path = write_pose(tmp_path / "long.pose", 250)  # 10 s at 25 fps
    whole = Pose.read(path.read_bytes()).body.data
    part = cut(VideoRecord("long", "test", None, path), 2000, 4000, tmp_path / "parts")
    assert part.offset_ms == 2000.0 and part.record.video_id == "long"
    data = Pose.read(part.record.pose_path.read_bytes()).body.data
    assert data.shape[0] == 51 and np.array_equal(np.asarray(data), np.asarray(whole[50:101]))
    assert shifted([[1, 0, 400, 0.9, []]], part.offset_ms) == [[1, 2000, 2400, 0.9, []]]
    untouched = VideoRecord("long", "test", None, path)
    assert cut(untouched, None, None, tmp_path / "parts").record is untouched


def test_a_video_part_starts_on_the_first_frame_in_the_range(tmp_path):
    import shutil
    from pathlib import Path

    import cv2

    from benchmark.interfaces import VideoRecord
    from benchmark.spot.ranges import cut

    video = tmp_path / "clip.mp4"
    shutil.copy(Path(__file__).parent / "fixtures" / "test_video.mp4", video)
    cap = cv2.VideoCapture(str(video))
    fps, frames = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    start = int(round(10 * 1000 / fps)) + 1  # just after frame 10: the part starts at frame 11
    part = cut(VideoRecord("clip", "test", video), start, None, tmp_path / "parts")
    assert part.offset_ms == pytest.approx(11 * 1000 / fps, abs=1.0)
    cap = cv2.VideoCapture(str(part.record.video_path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == frames - 11
    cap.release()
