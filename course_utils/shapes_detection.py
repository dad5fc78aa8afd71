"""A procedural, seeded object-detection dataset: coloured shapes on a noisy background.

Nothing to download, the same images for the same seed on every machine, and the same NumPy arrays
for the PyTorch and the TensorFlow labs. Each image holds ``min_objects`` to ``max_objects``
shapes of ``CLASSES`` whose boxes neither overlap nor touch; every shape's box ``(x1, y1, x2, y2)`` is computed from the
pixels actually painted for it, so it encloses them tightly (pixel-edge convention: the shape covers
columns ``x1 .. x2 - 1`` and rows ``y1 .. y2 - 1``). Labels are ``1 .. len(CLASSES)``; 0 is left for
"background"/"no object", as in torchvision's detection models.

NumPy only at import. ``to_torchvision`` imports torch when called; ``draw_boxes`` takes a matplotlib
axis.
"""
from __future__ import annotations

import numpy as np

CLASSES = ("circle", "square", "triangle")


def _shape_mask(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask (size, size) of one shape that touches all four sides of its square."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    if kind == "circle":
        r = size / 2.0
        mask = (xx - r) ** 2 + (yy - r) ** 2 <= r * r
    elif kind == "square":
        mask = np.ones((size, size), dtype=bool)
    elif kind == "triangle":  # apex at the top centre, base along the bottom row
        half = (yy / size) * (size / 2.0)  # half-width grows linearly from the apex to the base
        mask = np.abs(xx - size / 2.0) <= half + 0.5
    else:
        raise ValueError(f"unknown shape {kind!r}; expected one of {CLASSES}")
    return mask


def _balanced_labels(total: int, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """``total`` labels in 1..n_classes whose counts differ by at most one, in random order."""
    labels = np.arange(total) % n_classes + 1
    return rng.permutation(labels)


def make_shapes_detection(n_images: int, image_size: int = 64, min_objects: int = 1, max_objects: int = 3,
                          min_shape: int | None = None, max_shape: int | None = None,
                          noise: float = 0.05, seed: int = 0) -> dict:
    """Generate ``n_images`` detection examples.

    Returns a dict with
      * ``images``: float32 array (N, H, W, 3) in [0, 1], channels-last (use ``to_torchvision`` or
        ``transpose(0, 3, 1, 2)`` for PyTorch);
      * ``boxes``: list of N float32 arrays (k_i, 4), ``(x1, y1, x2, y2)`` in pixels;
      * ``labels``: list of N int64 arrays (k_i,), values in 1..len(CLASSES);
      * ``classes``: the class names (label ``i`` is ``classes[i - 1]``).

    Over the whole set the class counts differ by at most one. Boxes never overlap (one free pixel
    around each), so no shape hides part of another and every box is tight on its visible pixels.
    """
    for name, value in (("n_images", n_images), ("image_size", image_size), ("min_objects", min_objects),
                        ("max_objects", max_objects)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if min_objects > max_objects:
        raise ValueError(f"min_objects ({min_objects}) must not exceed max_objects ({max_objects})")
    min_shape = max(6, image_size // 6) if min_shape is None else min_shape
    max_shape = max(min_shape, image_size // 3) if max_shape is None else max_shape
    if not 3 <= min_shape <= max_shape <= image_size - 2:
        raise ValueError(f"need 3 <= min_shape <= max_shape <= image_size - 2, got min_shape={min_shape}, "
                         f"max_shape={max_shape}, image_size={image_size}")
    rng = np.random.default_rng(seed)
    counts = rng.integers(min_objects, max_objects + 1, size=n_images)
    labels_flat = _balanced_labels(int(counts.sum()), len(CLASSES), rng)
    images = np.empty((n_images, image_size, image_size, 3), dtype=np.float32)
    boxes_out, labels_out = [], []
    start = 0
    for i, k in enumerate(counts):
        image = rng.uniform(0.0, 0.25, size=3).astype(np.float32) + np.zeros((image_size, image_size, 3), np.float32)
        occupied = np.zeros((image_size, image_size), dtype=bool)
        boxes, labels = [], []
        for label in labels_flat[start:start + k]:
            for _attempt in range(100):
                size = int(rng.integers(min_shape, max_shape + 1))
                x0 = int(rng.integers(0, image_size - size + 1))
                y0 = int(rng.integers(0, image_size - size + 1))
                region = occupied[max(y0 - 1, 0):y0 + size + 1, max(x0 - 1, 0):x0 + size + 1]
                if not region.any():
                    break
            else:
                raise RuntimeError(f"could not place {k} shapes without overlap in a {image_size}px image; "
                                   f"use smaller shapes or fewer objects")
            mask = _shape_mask(CLASSES[label - 1], size, rng)
            colour = rng.uniform(0.45, 1.0, size=3).astype(np.float32)
            image[y0:y0 + size, x0:x0 + size][mask] = colour
            occupied[y0:y0 + size, x0:x0 + size] = True  # the whole square: boxes never touch
            rows, cols = np.nonzero(mask)
            boxes.append((x0 + cols.min(), y0 + rows.min(), x0 + cols.max() + 1, y0 + rows.max() + 1))
            labels.append(label)
        start += k
        image += rng.normal(0.0, noise, size=image.shape).astype(np.float32)
        images[i] = np.clip(image, 0.0, 1.0)
        boxes_out.append(np.asarray(boxes, dtype=np.float32).reshape(-1, 4))
        labels_out.append(np.asarray(labels, dtype=np.int64))
    return {"images": images, "boxes": boxes_out, "labels": labels_out, "classes": CLASSES}


def padded_targets(dataset: dict, max_objects: int | None = None):
    """Boxes and labels as dense arrays: ``(N, M, 4)`` float32 and ``(N, M)`` int64, padded with label 0.

    Convenient for frameworks that want rectangular tensors (TensorFlow, Keras).
    """
    m = max(len(b) for b in dataset["boxes"]) if max_objects is None else max_objects
    n = len(dataset["boxes"])
    boxes = np.zeros((n, m, 4), dtype=np.float32)
    labels = np.zeros((n, m), dtype=np.int64)
    for i, (b, lab) in enumerate(zip(dataset["boxes"], dataset["labels"])):
        if len(b) > m:
            raise ValueError(f"image {i} has {len(b)} objects, more than max_objects={m}")
        boxes[i, :len(b)], labels[i, :len(b)] = b, lab
    return boxes, labels


def to_torchvision(dataset: dict, device="cpu"):
    """The dataset in the format torchvision's detection models take (imports torch).

    Returns ``(images, targets)``: a list of float32 tensors (3, H, W) and a list of dicts with
    ``"boxes"`` (float32, (k, 4), x1 y1 x2 y2) and ``"labels"`` (int64, (k,)).
    """
    import torch

    images = [torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1))).to(device) for im in dataset["images"]]
    targets = [{"boxes": torch.from_numpy(b).to(device), "labels": torch.from_numpy(lab).to(device)}
               for b, lab in zip(dataset["boxes"], dataset["labels"])]
    return images, targets


def draw_boxes(ax, image, boxes, labels, scores=None, classes=CLASSES, color="yellow", title: str = ""):
    """Show ``image`` (H, W, 3) on ``ax`` with its boxes and class names (and scores, if given)."""
    from matplotlib.patches import Rectangle

    ax.imshow(np.clip(np.asarray(image), 0, 1), interpolation="nearest",
              extent=(0, image.shape[1], image.shape[0], 0))
    for j, (box, label) in enumerate(zip(np.asarray(boxes), np.asarray(labels))):
        x1, y1, x2, y2 = (float(v) for v in box)
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color, lw=1.5))
        text = classes[int(label) - 1] if 1 <= int(label) <= len(classes) else str(int(label))
        if scores is not None:
            text += f" {float(scores[j]):.2f}"
        ax.text(x1, y1, text, color="black", fontsize=7, va="bottom",
                bbox=dict(facecolor=color, alpha=0.8, pad=0.5, lw=0))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax
