"""The temporal spotters (conv + BiLSTM reference, TCN, transformer), their losses, training, inference, decoders
and challenge outputs.

One file per role: ``conv_bilstm.py``, ``tcn.py``, ``transformer.py`` are the components (name, settings,
``create_model``; no torch), ``models/`` their networks; ``targets.py``, ``losses.py``, ``training.py`` and
``inference.py`` serve every spotter; ``decoders/`` turn per-clip outputs into segments (numpy only).
"""
