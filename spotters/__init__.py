"""The temporal spotters (conv + BiLSTM reference, TCN, transformer; the pyramid spotters ActionFormer and
TemporalMaxer), their targets, losses, training, inference, decoders and challenge outputs.

One file per role: ``conv_bilstm.py``, ``tcn.py``, ``transformer.py``, ``actionformer.py``, ``temporalmaxer.py``
are the components (name, settings, ``create_model``; no torch), ``pyramid.py`` what the pyramid ones share,
``models/`` their networks; ``targets.py`` and ``losses.py`` (per clip), ``pyramid_targets.py`` and
``pyramid_loss.py`` (per pyramid point), ``training.py`` and ``inference.py`` serve every spotter; ``decoders/``
turn per-clip outputs into segments (numpy only).
"""
