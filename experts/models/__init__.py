"""The experts' ``torch.nn.Module`` code, one module per network family.

Importing any of these imports torch (and pytorchvideo or timm): the expert classes in :mod:`experts` import
them inside ``create_model``, so registering and listing experts stays cheap.
"""
