"""Every input brought to the entry's frame rate while it is read (benchmark/preprocessing/resample.py), and the
frame <-> ms mapping on that grid (benchmark/engine/clips.py)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.engine.clips import IGNORE, ClipSpec, frame_labels, frame_to_ms, ms_to_frame, outside_ignored
from benchmark.preprocessing.resample import frames_for, grid_frames, interpolate, nearest, on_grid


def test_the_sources_own_rate_keeps_every_frame():
    frames = list(range(10))
    assert list(on_grid([(40.0 * i, i) for i in frames], 25, 25)) == frames
    assert frames_for(400, 25, 25) == 400
    assert nearest(np.arange(7), 25, 25).tolist() == list(range(7))


def test_29_97_fps_frames_are_picked_by_time():
    """The real test_video.mp4 rate: 58 frames of 33.43 ms = 1939 ms -> 49 frames of 40 ms, each the source frame
    nearest its grid time."""
    step = 1000 / 29.916666
    picked = list(on_grid([(step * i, i) for i in range(58)], 25, 29.916666))
    assert len(picked) == 49 == grid_frames(58 * step, 25)
    for k, i in enumerate(picked):
        assert abs(step * i - 40 * k) <= step / 2 + 1e-6, (k, i)
    assert picked[:8] == [0, 1, 2, 4, 5, 6, 7, 8]


def test_upsampling_repeats_the_nearest_frame_and_ties_go_earlier():
    assert list(on_grid([(40.0 * i, i) for i in range(4)], 50, 25)) == [0, 0, 1, 1, 2, 2, 3, 3]
    # 30 fps grid over a 25 fps source: grid time 100 ms lies half-way between frames 2 (80) and 3 (120)
    assert list(on_grid([(40.0 * i, i) for i in range(5)], 30, 25)) == [0, 1, 2, 2, 3, 4]


def test_variable_frame_timing_is_honoured():
    """A variable-frame-rate source (a phone pausing 200 ms): frames are held, not time-shifted."""
    times = [0, 33, 67, 100, 300, 333, 367]
    picked = list(on_grid([(float(t), i) for i, t in enumerate(times)], 25, 30))
    # grid 0, 40, ..., 360 ms: ten frames cover the 400.3 ms up to the last frame's end
    assert picked == [0, 1, 2, 3, 3, 3, 4, 4, 5, 6]


def test_timestamps_that_do_not_increase_fall_back_to_the_frame_rate():
    assert list(on_grid([(0.0, i) for i in range(5)], 25, 25)) == [0, 1, 2, 3, 4]


def test_pose_interpolation_never_invents_a_joint_and_keeps_confidence_low():
    pose = np.zeros((5, 2, 4), np.float32)
    pose[:, :, 0] = np.arange(5)[:, None]  # x moves one unit a frame
    pose[:, :, 3] = [[0.9, 0.9], [0.5, 0.9], [0.9, 0.9], [0.9, 0.9], [0.9, 0.9]]
    pose[3, 1] = np.nan  # joint 1 missing in frame 3
    out = interpolate(pose, 25, 50, confidence=3)
    assert out.shape == (10, 2, 4)
    np.testing.assert_allclose(out[:, 0, 0], [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4])
    assert out[1, 0, 3] == pytest.approx(0.5)  # between 0.9 and 0.5: the smaller
    assert np.isnan(out[5, 1]).all() and np.isnan(out[6, 1]).all() and np.isnan(out[7, 1]).all()
    assert not np.isnan(out[4, 1]).any() and not np.isnan(out[8, 1]).any()  # on frames 2 and 4: present


def test_frame_stream_resamples_a_30_fps_video(tmp_path):
    import cv2

    from benchmark.preprocessing.frames import read_frames

    path = tmp_path / "v30.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (64, 48))
    for i in range(30):  # one second, frame i painted 8 * i
        writer.write(np.full((48, 64, 3), 8 * i, np.uint8))
    writer.release()
    assert len(read_frames(path)) == 30
    frames = read_frames(path, fps=25)
    assert len(frames) == 25
    values = [int(round(f.mean() / 8)) for f in frames]
    assert values == [int(np.ceil(k * 30 / 25 - 0.5)) for k in range(25)]


def test_ms_and_frames_on_any_grid():
    assert ms_to_frame([0, 39, 40, 1000], 25).tolist() == [0, 0, 1, 25]
    assert frame_to_ms([0, 1, 25], 25).tolist() == [0, 40, 1000]
    assert ms_to_frame([33, 34, 1000], 30).tolist() == [0, 1, 30]
    assert frame_to_ms([1, 30], 30).tolist() == [33, 1000]
    # a sign labelled from ELAN's ms maps back to the frames it labelled
    clips = ClipSpec(8, 4, 4, fps=30.0)
    labels = frame_labels([[0, 1000, 1990]], 90, fps=30)
    assert np.flatnonzero(labels).tolist() == list(range(30, 60))
    assert clips.to_ms([30, 59]).tolist() == [1000, 1967]


def test_ignored_spans_are_neither_sign_nor_background():
    labels = frame_labels([[1, 400, 760]], 40, ignored=[(800, 1200)])
    assert (labels[10:20] == 2).all() and (labels[20:31] == IGNORE).all() and labels[31:].sum() == 0
    clip = ClipSpec(8, 8, 0).clip_labels(labels)
    assert clip.tolist() == [0, 2, 2, IGNORE, 0]  # clip 2: 4 sign frames, 4 ignored: ties go to the label
    # a prediction mostly inside an ignored span is not scored; one mostly outside is
    kept = outside_ignored([[1, 800, 1100, 0.9], [1, 400, 900, 0.8]], [(800, 1200)])
    assert kept == [[1, 400, 900, 0.8]]


def test_ignored_clips_are_left_out_of_expert_and_spotter_training():
    from benchmark.engine.expert_training import ClipIndex
    from benchmark.engine.spotter_training import _prepare

    labels = frame_labels([[0, 0, 280]], 32, ignored=[(640, 1240)])
    index = ClipIndex([(labels, np.zeros((32, 2), np.float32))], ClipSpec(8, 8, 0))
    assert index.label.tolist() == [1, 0] and index.clip.tolist() == [0, 1]
    clip_labels = ClipSpec(8, 8, 0).clip_labels(labels)
    items, counts, _ = _prepare([(np.zeros((4, 3), np.float32), clip_labels)], 2, None)
    assert items[0][4].tolist() == [True, True, False, False]
    assert counts.tolist() == [1, 1]


def test_another_tools_reduced_pose_file_is_read_by_point_name():
    """tests/fixtures/reduced_holistic.pose (sign-language-processing/pose's tests/data/mediapipe.pose, MIT):
    24 fps, 1250x1250, pose-format's reduced holistic layout (8 body points, 128 face points, both hands)."""
    from pathlib import Path

    from benchmark.joints import POSE_BODY_NAMES
    from benchmark.modalities.pose import PoseModality, read_pose_file

    pose, meta = read_pose_file(Path(__file__).parent / "fixtures" / "reduced_holistic.pose")
    assert (meta["fps"], meta["frames"], meta["width"]) == (24.0, 170, 1250)
    seen = ~np.isnan(pose[:, :33, 0]).all(axis=0)
    named = {"LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST"}
    assert {POSE_BODY_NAMES[i] for i in np.flatnonzero(seen)} == named | {"LEFT_HIP", "RIGHT_HIP"}
    assert np.nanmin(pose[:, 11, :2]) > 0.0 and np.nanmax(pose[:, 11, :2]) < 1.0  # normalised by the header size
    hands = (~np.isnan(pose[:, 33:, 0])).mean(axis=0)  # this signer's left hand is never found, the right on 85 %
    assert (hands[:21] == 0).all() and (hands[21:] > 0.8).all(), hands
    at25 = PoseModality().resample(pose, meta["fps"], 25)
    assert len(at25) == 178  # 170 frames of 41.7 ms = 7083 ms on the 40 ms grid
    np.testing.assert_allclose(at25[0], pose[0])
    a, b = pose[23, 11, :2], pose[24, 11, :2]  # grid frame 24 = 960 ms = source frame 23.04
    np.testing.assert_allclose(at25[24, 11, :2], a + 0.04 * (b - a), atol=1e-5)


def test_a_variable_frame_rate_video_is_resampled_by_its_timestamps():
    """tests/fixtures/variable_rate.mp4 (made here with ffmpeg: 30 frames painted 8 x i, about 30 fps with a
    167 ms stall after frame 10 and uneven spacing later; ``setpts`` with a 1 ms time base).  Each 40 ms grid
    frame is the decoded frame whose timestamp is nearest; a constant-rate reading would be off after the stall."""
    from pathlib import Path

    import cv2

    from benchmark.preprocessing.frames import read_frames

    path = Path(__file__).parent / "fixtures" / "variable_rate.mp4"
    cap = cv2.VideoCapture(str(path))
    stamps = []
    while cap.read()[0]:
        stamps.append(cap.get(cv2.CAP_PROP_POS_MSEC))
    cap.release()
    assert len(stamps) == 30 and stamps[11] - stamps[10] > 150  # the stall is really in the file
    frames = read_frames(path, fps=25)
    picked = [int(round(f.mean() / 8)) for f in frames]
    want = [int(np.argmin(np.abs(np.asarray(stamps) - 40 * k))) for k in range(len(frames))]  # ties: the earlier
    assert picked == want
    assert len(frames) == 27  # the last frame at 1034 ms lasts one average frame (28.1 fps header): 1070 ms
    assert picked[10] == 10 and picked[11] == 11  # 400 ms shows frame 10 (at 334 ms), not frame 12


def test_a_pose_without_a_face_is_centred_on_the_shoulders():
    """The reduced holistic layout has no nose: the skeleton is centred on the mid-shoulders instead of x = 0."""
    from pathlib import Path

    from benchmark.joints import SKELETON_LEFT_SHOULDER, SKELETON_RIGHT_SHOULDER
    from benchmark.modalities.pose import read_pose_file
    from benchmark.modalities.skeleton import pose_to_skeleton

    pose, meta = read_pose_file(Path(__file__).parent / "fixtures" / "reduced_holistic.pose")
    skel = pose_to_skeleton(pose, meta["width"], meta["height"], interpolate=True, normalise=True)
    centre = (skel[:, SKELETON_LEFT_SHOULDER, 0] + skel[:, SKELETON_RIGHT_SHOULDER, 0]) / 2
    np.testing.assert_allclose(centre, 0.0, atol=1e-5)
    width = np.abs(skel[:, SKELETON_LEFT_SHOULDER, 0] - skel[:, SKELETON_RIGHT_SHOULDER, 0])
    assert np.median(width) == pytest.approx(0.5, abs=0.05)  # divided by twice the shoulder width
