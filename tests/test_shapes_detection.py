"""Unit tests of course_utils.shapes_detection (the procedural detection dataset of pt04/tf04)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from course_utils.shapes_detection import CLASSES, draw_boxes, make_shapes_detection, padded_targets


def test_same_seed_same_data_other_seed_other_data():
    a, b = make_shapes_detection(12, seed=3), make_shapes_detection(12, seed=3)
    np.testing.assert_array_equal(a["images"], b["images"])
    for key in ("boxes", "labels"):
        assert len(a[key]) == len(b[key]) == 12
        for x, y in zip(a[key], b[key]):
            np.testing.assert_array_equal(x, y)
    c = make_shapes_detection(12, seed=4)
    assert not np.array_equal(a["images"], c["images"]), "a different seed must give different images"


def test_shapes_dtypes_and_ranges():
    data = make_shapes_detection(20, image_size=48, min_objects=1, max_objects=3, seed=0)
    assert data["images"].shape == (20, 48, 48, 3) and data["images"].dtype == np.float32
    assert data["images"].min() >= 0.0 and data["images"].max() <= 1.0
    assert data["classes"] == CLASSES
    for boxes, labels in zip(data["boxes"], data["labels"]):
        assert boxes.dtype == np.float32 and labels.dtype == np.int64
        assert boxes.shape == (len(labels), 4) and 1 <= len(labels) <= 3
        assert set(labels.tolist()) <= set(range(1, len(CLASSES) + 1)), f"labels must be 1..{len(CLASSES)}: {labels}"


@pytest.mark.parametrize("image_size", [32, 64, 96])
def test_boxes_lie_inside_the_image_and_are_not_empty(image_size):
    data = make_shapes_detection(30, image_size=image_size, seed=1)
    boxes = np.concatenate(data["boxes"])
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 2] <= image_size).all() and (boxes[:, 3] <= image_size).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()


@pytest.mark.parametrize("n_images", [1, 7, 50, 301])
def test_classes_are_balanced(n_images):
    labels = np.concatenate(make_shapes_detection(n_images, image_size=48, seed=n_images)["labels"])
    counts = np.bincount(labels, minlength=len(CLASSES) + 1)[1:]
    assert counts.max() - counts.min() <= 1, f"class counts {counts} differ by more than one"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_box_tightly_encloses_the_drawn_shape(seed):
    """Without noise, the non-background pixels around each box are exactly those inside it, and they
    touch all four of its sides."""
    data = make_shapes_detection(25, image_size=64, noise=0.0, seed=seed)
    for image, boxes in zip(data["images"], data["boxes"]):
        values, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
        background = values[counts.argmax()]
        foreground = np.abs(image - background).max(axis=-1) > 0.1
        covered = np.zeros_like(foreground)
        for x1, y1, x2, y2 in boxes.astype(int):
            # one ring of pixels around the box holds no foreground (shapes never touch)
            ring = foreground[max(y1 - 1, 0):y2 + 1, max(x1 - 1, 0):x2 + 1].copy()
            inner = foreground[y1:y2, x1:x2]
            assert ring.sum() == inner.sum(), f"foreground pixels just outside box {(x1, y1, x2, y2)}"
            rows, cols = np.nonzero(inner)
            assert (rows.min(), cols.min(), rows.max(), cols.max()) == (0, 0, y2 - y1 - 1, x2 - x1 - 1), \
                f"box {(x1, y1, x2, y2)} is not tight on its shape"
            covered[y1:y2, x1:x2] |= inner
        assert (covered == foreground).all(), "foreground pixels outside every box"


def test_shape_classes_look_different():
    """A square fills its box, a circle about pi/4 of it, a triangle about half."""
    data = make_shapes_detection(60, image_size=96, noise=0.0, min_shape=16, max_shape=30, seed=5)
    fill = {c: [] for c in range(1, len(CLASSES) + 1)}
    for image, boxes, labels in zip(data["images"], data["boxes"], data["labels"]):
        values, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
        fg = np.abs(image - values[counts.argmax()]).max(axis=-1) > 0.1
        for (x1, y1, x2, y2), label in zip(boxes.astype(int), labels):
            fill[int(label)].append(fg[y1:y2, x1:x2].mean())
    means = {CLASSES[k - 1]: float(np.mean(v)) for k, v in fill.items()}
    assert means["square"] == pytest.approx(1.0)
    assert means["circle"] == pytest.approx(np.pi / 4, abs=0.05)
    assert means["triangle"] == pytest.approx(0.5, abs=0.07)


def test_padded_targets():
    data = make_shapes_detection(10, seed=2)
    boxes, labels = padded_targets(data)
    m = max(len(b) for b in data["boxes"])
    assert boxes.shape == (10, m, 4) and labels.shape == (10, m)
    for i, (b, lab) in enumerate(zip(data["boxes"], data["labels"])):
        np.testing.assert_array_equal(boxes[i, :len(b)], b)
        np.testing.assert_array_equal(labels[i, :len(b)], lab)
        assert (labels[i, len(b):] == 0).all() and (boxes[i, len(b):] == 0).all()
    with pytest.raises(ValueError, match="max_objects=1"):
        padded_targets(make_shapes_detection(5, min_objects=2, max_objects=2, seed=0), max_objects=1)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="n_images"):
        make_shapes_detection(0)
    with pytest.raises(ValueError, match=r"min_objects \(4\)"):
        make_shapes_detection(3, min_objects=4, max_objects=2)
    with pytest.raises(ValueError, match="max_shape=70"):
        make_shapes_detection(3, image_size=64, max_shape=70)


def test_draw_boxes_adds_one_rectangle_per_box():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = make_shapes_detection(1, min_objects=3, max_objects=3, seed=0)
    fig, ax = plt.subplots()
    draw_boxes(ax, data["images"][0], data["boxes"][0], data["labels"][0], scores=[0.9, 0.8, 0.7])
    assert len(ax.patches) == 3 and len(ax.texts) == 3
    assert ax.texts[0].get_text().startswith(CLASSES[data["labels"][0][0] - 1])
    plt.close(fig)


def test_import_is_numpy_only_and_torchvision_format():
    code = ("import sys, course_utils.shapes_detection as s;"
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == []
    torch = pytest.importorskip("torch")
    from course_utils.shapes_detection import to_torchvision

    data = make_shapes_detection(4, image_size=32, seed=0)
    images, targets = to_torchvision(data)
    assert len(images) == len(targets) == 4
    assert images[0].shape == (3, 32, 32) and images[0].dtype == torch.float32
    torch.testing.assert_close(images[1], torch.from_numpy(data["images"][1]).permute(2, 0, 1))
    assert targets[0]["boxes"].dtype == torch.float32 and targets[0]["labels"].dtype == torch.int64
    assert targets[0]["boxes"].shape == (len(data["labels"][0]), 4)
