"""Preprocessing modalities (pose, rgb-crop, rgb-hands, flow-tvl1, skeleton) and the per-video runner.

Importing this package is cheap: cv2, mediapipe and pose-format are imported inside the functions that use
them.  The plugin (``benchmark.modalities.plugin``) registers one instance of each modality; the pipeline
calls :func:`benchmark.modalities.runner.preprocess_videos`.
"""
