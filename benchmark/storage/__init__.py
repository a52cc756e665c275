"""What a run keeps: the stage cache, atomic file writes, the restricted pickle loader and the trained-pipeline
bundle."""
