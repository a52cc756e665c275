"""The built-in preprocessing modalities: pose, rgb-crop, rgb-hands, flow-tvl1, skeleton.

Each is a :class:`benchmark.interfaces.Modality` that only knows its own array; decoding, caching and
parallelism are :mod:`benchmark.preprocessing`'s.  Importing this package is cheap: cv2, mediapipe and
pose-format are imported inside the functions that use them.
"""
