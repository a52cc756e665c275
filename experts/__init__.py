"""Stage 1: clip-level experts (I3D, P3D, ST-GCN and alternatives), their training and feature extraction.

Importing this package is cheap; torch, pytorchvideo and timm are imported by the modules that need them.
"""
