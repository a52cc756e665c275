"""The training and inference machinery the stages drive and built-in plugins reuse: clip segmentation and
labels, expert training and feature extraction, checkpoints, clip transforms, spotter training, targets,
losses and batched inference."""
