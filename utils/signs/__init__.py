"""The attack on street signs (notebook 04): a sticker on a stop sign, one module per idea.

- `classes`: the sign classes, numbered as in GTSRB
- `synthetic`: GTSRB-like photos drawn offline
- `gtsrb`: the real GTSRB photos, through torchvision's folder layout
- `dataset`: either source as tensors, and the sticker applied to photos
- `sticker`: the sticker trigger, on the sign or on the image
- `attack`: poisoning, training (or reusing) and measuring a sign model
- `robustness`: the sticker smaller, larger, moved, or the sign tilted
"""
