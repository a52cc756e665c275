"""Decoders: per-clip probabilities and offsets of one video -> ``[[class_id, start_ms, end_ms], ...]``."""
