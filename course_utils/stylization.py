"""What a stylized picture is, measured: style statistics moved, content layout kept (framework-neutral).

Labs pt05 and tf05 print two numbers for their stylized picture and a verdict worded on them:

* the **style loss** (the lab's own :math:`\\mathcal{L}_s`, channel means and stds at relu1_1 .. relu4_1)
  of the content picture (*before*) and of the stylized picture (*after*), both against the style picture;
* the **edge SSIM**: the structural similarity of the pictures' Sobel edge maps (each scaled to its own
  99th percentile) with the content's. It is 1 for the content itself (or a darkened copy), 0.01-0.04
  for the course's other pictures at 256x256, and about 0.3 for a blend half content, half style. It
  measures whether the content's layout (outlines, where the cat is) survived, whatever happened to
  colour, texture and contrast.

NumPy and scikit-image only; pictures are (H, W, 3) or (1, H, W, 3) float arrays in [0, 1].
"""
from __future__ import annotations

import numpy as np

# Where the verdict's words change.
STYLE_MOVED = 0.5  # after <= STYLE_MOVED * before: "moved towards the style's"
LAYOUT_KEPT = 0.5  # at least half of the way from the unrelated picture's SSIM to 1: "most of the layout"
LAYOUT_SOME = 0.1  # at least this much above the unrelated picture's SSIM: "some of the layout"


def _picture(image, name: str) -> np.ndarray:
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"{name} must be one RGB picture of shape (H, W, 3) or (1, H, W, 3), "
                         f"got shape {np.shape(image)}")
    if min(array.shape[:2]) < 7:
        raise ValueError(f"{name} must be at least 7x7 pixels (the SSIM window), got {array.shape[0]}x{array.shape[1]}")
    return array


def edges(image) -> np.ndarray:
    """Sobel gradient magnitude (H, W) of the picture's luminance, scaled so that its 99th percentile is 1.

    The scaling makes the measure blind to edge *contrast* (a stylization may darken or soften the whole
    picture) and keeps one hot pixel from setting the scale; values are clipped to [0, 1]. A flat picture
    has an all-zero edge map.
    """
    from skimage.color import rgb2gray
    from skimage.filters import sobel

    magnitude = sobel(rgb2gray(np.clip(_picture(image, "image"), 0.0, 1.0)))
    scale = np.percentile(magnitude, 99)
    return np.clip(magnitude / scale, 0.0, 1.0) if scale > 1e-12 else np.zeros_like(magnitude)


def edge_ssim(image, reference) -> float:
    """SSIM (scikit-image, 7x7 window, data range 1) between the two pictures' edge maps."""
    from skimage.metrics import structural_similarity

    a, b = edges(image), edges(reference)
    if a.shape != b.shape:
        raise ValueError(f"the pictures must have the same size, got {a.shape} and {b.shape}")
    return float(structural_similarity(a, b, data_range=1.0))


def verdict(style_before: float, style_after: float, layout_after: float, layout_unrelated: float, *,
            pretrained: bool) -> list[str]:
    """Sentences for under the quality table, worded on the four measured numbers.

    ``style_before``/``style_after``: style loss of the content and of the stylized picture against the style;
    ``layout_after``/``layout_unrelated``: edge SSIM with the content of the stylized picture and of an
    unrelated picture (the style picture). ``pretrained``: whether the encoder had ImageNet weights.
    """
    for name, value in (("style_before", style_before), ("style_after", style_after)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite, non-negative loss, got {value!r}")
    ratio = style_after / style_before if style_before > 0 else float("inf")
    if style_before == 0:
        style = f"is already 0 for the content picture ({style_after:.4g} after): there was nothing to move"
    elif style_after <= STYLE_MOVED * style_before:
        style = (f"fell {1 / ratio:.3g}x (from {style_before:.4g} to {style_after:.4g}): "
                 f"its statistics moved towards the style's")
    elif style_after < style_before:
        style = (f"fell only {1 / ratio:.3g}x (from {style_before:.4g} to {style_after:.4g}; 'moved' needs "
                 f"{1 / STYLE_MOVED:.3g}x): its statistics barely moved towards the style's")
    else:
        style = (f"did not fall ({style_before:.4g} before, {style_after:.4g} after): "
                 f"its statistics are no closer to the style's than the content's are")
    gain = (layout_after - layout_unrelated) / max(1.0 - layout_unrelated, 1e-12)
    if gain >= LAYOUT_KEPT:
        layout = "most of the content's layout is kept"
    elif layout_after - layout_unrelated >= LAYOUT_SOME:
        layout = "some of the content's layout is kept"
    else:
        layout = (f"the content's layout is lost: its edges match the content's less than {LAYOUT_SOME:g} better "
                  f"than an unrelated picture's do")
    lines = [f"style loss against the style picture {style}.",
             f"edge SSIM with the content {layout_after:.3f} (the style picture: {layout_unrelated:.3f}, the content "
             f"itself: 1): {layout}."]
    if pretrained:
        lines.append("The encoder has ImageNet weights: the style loss is the paper's measure; whether the picture "
                     "looks like a stylization, judge it yourself.")
    else:
        lines.append("The encoder is the NON-pretrained fallback: the style loss compares statistics of random "
                     "ReLU filters, which follow colour, contrast and some texture; a lower value is not evidence "
                     "of a stylization as a person (or ImageNet features) would judge it.")
    return lines


def measure(pictures, content, style_loss_of) -> dict[str, tuple[float, float]]:
    """``{name: (style loss, edge SSIM with content)}`` for each picture of ``pictures`` (a name -> picture dict).

    ``style_loss_of(picture)`` is the lab's style loss of one picture against the style picture, as a float.
    """
    return {name: (float(style_loss_of(picture)), edge_ssim(picture, content)) for name, picture in pictures.items()}


def report(measured, *, before: str, after: str, unrelated: str, pretrained: bool) -> str:
    """The quality table of ``measure``'s result and the verdict, worded on it, as printable text."""
    from .plotting import format_table

    for role, name in (("before", before), ("after", after), ("unrelated", unrelated)):
        if name not in measured:
            raise ValueError(f"{role}={name!r} is not one of the measured pictures {sorted(measured)}")
    table = format_table([("picture", "<30s"), ("style loss vs style", "20.4g"), ("edge SSIM vs content", "22.3f")],
                         [(name, loss, ssim) for name, (loss, ssim) in measured.items()])
    lines = verdict(measured[before][0], measured[after][0], measured[after][1], measured[unrelated][1],
                    pretrained=pretrained)
    rule = (f"(the rule applied: statistics 'moved' where the style loss is at most {STYLE_MOVED:g} x the content's; "
            f"'most of the layout' where the edge SSIM is at least {LAYOUT_KEPT:g} of the way from the style "
            f"picture's to 1, 'some of the layout' where it is at least {LAYOUT_SOME:g} above the style picture's)")
    return "\n".join([table, *lines, rule])


def plot_edges(pictures, title: str = ""):
    """One row of edge maps (what ``edge_ssim`` compares), one panel per picture of ``pictures``."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(pictures), figsize=(3.2 * len(pictures), 3.6), squeeze=False)
    for ax, (name, picture) in zip(axes[0], pictures.items()):
        ax.imshow(edges(picture), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"edges: {name}", fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
