"""Joint layouts, defined once: the 75-joint ``pose`` array and the 57-joint ``skeleton`` of REFERENCE.md.

``pose`` (MediaPipe Holistic): joints 0..32 body (MediaPipe pose indices), 33..53 left hand, 54..74 right hand
(MediaPipe hand order, wrist first); "left" is the signer's left, as MediaPipe labels it.

``skeleton``: 15 body joints (the pose indices in :data:`SKELETON_BODY`: nose, eyes inner/centre/outer,
mouth corners, shoulders, elbows, hips), then the 21 left-hand and 21 right-hand keypoints.
"""

from __future__ import annotations

POSE_BODY = 33
HAND = 21
POSE_JOINTS = POSE_BODY + 2 * HAND  # 75
POSE_LEFT_HAND = slice(POSE_BODY, POSE_BODY + HAND)
POSE_RIGHT_HAND = slice(POSE_BODY + HAND, POSE_JOINTS)
POSE_LEFT_WRIST, POSE_RIGHT_WRIST = 15, 16  # body joints a missing hand falls back to
POSE_CENTRE = (0, 11, 12, 23, 24)  # nose, shoulders, hips: where the crop is centred

# MediaPipe's landmark names (pose-format headers name their points with them), in index order
POSE_BODY_NAMES = (
    "NOSE",
    "LEFT_EYE_INNER",
    "LEFT_EYE",
    "LEFT_EYE_OUTER",
    "RIGHT_EYE_INNER",
    "RIGHT_EYE",
    "RIGHT_EYE_OUTER",
    "LEFT_EAR",
    "RIGHT_EAR",
    "MOUTH_LEFT",
    "MOUTH_RIGHT",
    "LEFT_SHOULDER",
    "RIGHT_SHOULDER",
    "LEFT_ELBOW",
    "RIGHT_ELBOW",
    "LEFT_WRIST",
    "RIGHT_WRIST",
    "LEFT_PINKY",
    "RIGHT_PINKY",
    "LEFT_INDEX",
    "RIGHT_INDEX",
    "LEFT_THUMB",
    "RIGHT_THUMB",
    "LEFT_HIP",
    "RIGHT_HIP",
    "LEFT_KNEE",
    "RIGHT_KNEE",
    "LEFT_ANKLE",
    "RIGHT_ANKLE",
    "LEFT_HEEL",
    "RIGHT_HEEL",
    "LEFT_FOOT_INDEX",
    "RIGHT_FOOT_INDEX",
)
HAND_NAMES = (
    "WRIST",
    "THUMB_CMC",
    "THUMB_MCP",
    "THUMB_IP",
    "THUMB_TIP",
    "INDEX_FINGER_MCP",
    "INDEX_FINGER_PIP",
    "INDEX_FINGER_DIP",
    "INDEX_FINGER_TIP",
    "MIDDLE_FINGER_MCP",
    "MIDDLE_FINGER_PIP",
    "MIDDLE_FINGER_DIP",
    "MIDDLE_FINGER_TIP",
    "RING_FINGER_MCP",
    "RING_FINGER_PIP",
    "RING_FINGER_DIP",
    "RING_FINGER_TIP",
    "PINKY_MCP",
    "PINKY_PIP",
    "PINKY_DIP",
    "PINKY_TIP",
)

SKELETON_BODY = (0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 23, 24)
SKELETON_JOINTS = len(SKELETON_BODY) + 2 * HAND  # 57
SKELETON_LEFT_HAND = len(SKELETON_BODY)  # 15: first joint (wrist) of the left hand
SKELETON_RIGHT_HAND = SKELETON_LEFT_HAND + HAND  # 36
SKELETON_NOSE = 0
SKELETON_LEFT_SHOULDER = SKELETON_BODY.index(11)
SKELETON_RIGHT_SHOULDER = SKELETON_BODY.index(12)
