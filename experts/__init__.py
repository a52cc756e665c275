"""Clip-level experts (I3D, P3D, ST-GCN and alternatives), their training and feature extraction.

One module per expert holds its component class (name, modality, settings, feature size); its network lives in
:mod:`experts.models`, imported only when a model is created, so importing this package (and listing or
validating experts) never imports torch, pytorchvideo or timm.
"""
