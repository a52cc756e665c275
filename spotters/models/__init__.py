"""The spotters' ``torch.nn.Module`` code (imports torch); the components in ``spotters/*.py`` import these
only when a model is built."""
