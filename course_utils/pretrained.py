"""The VGG-19 encoder of the AdaIN labs (pt05, tf05), and their content/style pictures.

Importing this module imports neither PyTorch nor TensorFlow: the framework is imported inside the
function that needs it (``load_vgg19_encoder`` for PyTorch, ``load_vgg19_encoder_keras`` for Keras).

**Pretrained path.** ``load_vgg19_encoder`` loads torchvision's ``VGG19_Weights.IMAGENET1K_V1``
through torchvision's weights API (downloaded once, then read from torchvision's normal cache,
``$TORCH_HOME/hub/checkpoints``) and keeps ``features[:21]``: the layers up to relu4_1.
``load_vgg19_encoder_keras`` does the same with ``keras.applications.VGG19(weights="imagenet")``
(Keras' cache, ``~/.keras/models``) up to ``block4_conv1``.

**Offline fallback.** Where the weights cannot be fetched (no network: the autograder, CI, this
course's build machines) the loaders print ONE line saying so and return the *same architecture*
with a documented, deterministic, **non-pretrained** initialization (``fallback_vgg19_arrays``):
He-normal weights (std ``sqrt(2 / fan_in)``) drawn from NumPy's PCG64 generator with seed 0, zero
biases. It is the same in both frameworks, so the two labs' fallback encoders compute the same
features. The returned encoder says which one ran (``encoder.pretrained``, ``encoder.source``), and
the notebooks print it: random VGG features are real convolutional features with the same shapes,
so every statistic and assertion of the labs stays meaningful, but a decoder trained on them does
not produce a recognisable stylization, and the labs say so.
"""
from __future__ import annotations

import numpy as np

# VGG-19 up to relu4_1: (name, in_channels, out_channels) of each 3x3 convolution, "pool" = 2x2 max pool.
VGG19_TO_RELU4_1 = (
    ("conv1_1", 3, 64), ("conv1_2", 64, 64), "pool",
    ("conv2_1", 64, 128), ("conv2_2", 128, 128), "pool",
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256), "pool",
    ("conv4_1", 256, 512),
)
TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")  # the features the AdaIN style loss uses
TAP_CHANNELS = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512}
KERAS_LAYER = {"conv1_1": "block1_conv1", "conv1_2": "block1_conv2", "conv2_1": "block2_conv1",
               "conv2_2": "block2_conv2", "conv3_1": "block3_conv1", "conv3_2": "block3_conv2",
               "conv3_3": "block3_conv3", "conv3_4": "block3_conv4", "conv4_1": "block4_conv1"}
TORCH_INDEX = {"conv1_1": 0, "conv1_2": 2, "conv2_1": 5, "conv2_2": 7, "conv3_1": 10, "conv3_2": 12,
               "conv3_3": 14, "conv3_4": 16, "conv4_1": 19}  # index in torchvision's vgg19().features
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's input normalization (RGB in [0, 1])
IMAGENET_STD = (0.229, 0.224, 0.225)
FALLBACK_SEED = 0


def _convs():
    return [layer for layer in VGG19_TO_RELU4_1 if layer != "pool"]


def fallback_vgg19_arrays(seed: int = FALLBACK_SEED) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The offline encoder's parameters: ``{conv name: (weight OIHW float32, bias float32)}``.

    He-normal initialization: each weight ~ N(0, 2 / fan_in) with fan_in = 9 * in_channels, drawn
    in layer order from ``np.random.default_rng(seed)`` (PCG64, identical on every platform and
    NumPy version); biases are zero. Activations then keep roughly the scale of the input through
    the ReLUs. Deterministic and framework-free: PyTorch and Keras build the same encoder from it.
    """
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, cin, cout in _convs():
        std = np.sqrt(2.0 / (9 * cin))
        weight = (rng.standard_normal((cout, cin, 3, 3)) * std).astype(np.float32)
        arrays[name] = (weight, np.zeros(cout, dtype=np.float32))
    return arrays


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    if len(text) > 220:
        text = text[:220].rsplit(" ", 1)[0] + " ..."
    return f"{type(err).__name__}: {text}"


# ------------------------------------------------------------------------------------------ PyTorch
def build_vgg19_encoder():
    """An untrained PyTorch VGG-19 encoder up to relu4_1 (class defined on first use: imports torch)."""
    import torch
    from torch import nn

    class VGG19Encoder(nn.Module):
        """VGG-19 up to relu4_1 (torchvision's ``features[:21]``, same parameter names).

        ``forward(images)`` takes RGB images in [0, 1], shape (N, 3, H, W), normalizes them with the
        ImageNet mean and std, and returns the dict ``{"relu1_1": ..., "relu4_1": ...}`` (shapes
        (N, 64, H, W), (N, 128, H/2, W/2), (N, 256, H/4, W/4), (N, 512, H/8, W/8)).
        ``pretrained`` and ``source`` say which weights it carries.
        """

        def __init__(self):
            super().__init__()
            layers = []
            for layer in VGG19_TO_RELU4_1:
                if layer == "pool":
                    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                else:
                    layers += [nn.Conv2d(layer[1], layer[2], kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            self.features = nn.Sequential(*layers)
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
            self.tap_index = {f"relu{n[4:]}": TORCH_INDEX[n] + 1 for n in ("conv1_1", "conv2_1", "conv3_1", "conv4_1")}
            self.pretrained = False
            self.source = "untrained"

        def forward(self, images, upto: str = "relu4_1"):
            if images.dim() != 4 or images.shape[1] != 3:
                raise ValueError(f"expected RGB images of shape (N, 3, H, W), got {tuple(images.shape)}")
            if upto not in self.tap_index:
                raise ValueError(f"upto must be one of {TAPS}, got {upto!r}")
            h = (images - self.mean) / self.std
            out, wanted = {}, {i: name for name, i in self.tap_index.items()}
            for i, layer in enumerate(self.features):
                h = layer(h)
                if i in wanted:
                    out[wanted[i]] = h
                    if wanted[i] == upto:
                        break
            return out

    return VGG19Encoder()


def _fallback_state_dict(seed: int = FALLBACK_SEED) -> dict:
    import torch

    state = {}
    for name, (weight, bias) in fallback_vgg19_arrays(seed).items():
        state[f"features.{TORCH_INDEX[name]}.weight"] = torch.from_numpy(weight)
        state[f"features.{TORCH_INDEX[name]}.bias"] = torch.from_numpy(bias)
    return state


def _imagenet_weights():
    from torchvision.models import VGG19_Weights

    return VGG19_Weights.IMAGENET1K_V1


def load_vgg19_encoder(pretrained: bool = True, download: bool = True, device="cpu", verbose: bool = True):
    """VGG-19 up to relu4_1, frozen and in eval mode, on ``device``.

    With ``pretrained``, loads torchvision's ``VGG19_Weights.IMAGENET1K_V1`` (from torchvision's cache,
    or downloaded into it when ``download``; only the convolutions up to relu4_1 are kept). When that
    is not requested or fails (offline), prints one line and returns the deterministic non-pretrained
    encoder of ``fallback_vgg19_arrays``. ``encoder.pretrained`` (bool) and ``encoder.source`` (str) say
    which one it is.
    """
    import contextlib
    import io
    import os

    encoder = build_vgg19_encoder()
    state, note = None, ""
    if pretrained:
        weights = _imagenet_weights()
        try:
            from torch.hub import get_dir

            cached = os.path.join(get_dir(), "checkpoints", os.path.basename(weights.url))
            if not download and not os.path.exists(cached):
                raise FileNotFoundError(f"{cached} is not cached and download=False")
            was_cached = os.path.exists(cached)
            with contextlib.redirect_stdout(io.StringIO()):  # torch.hub prints a "Downloading" line of its own
                full = weights.get_state_dict(progress=False, check_hash=True)
            state = {k: v for k, v in full.items()
                     if k.startswith("features.") and int(k.split(".")[1]) <= TORCH_INDEX["conv4_1"]}
        except Exception as err:  # offline: URLError, socket errors, missing cache, bad hash
            note = _one_line(err)
    if state is not None:
        encoder.load_state_dict({**state, "mean": encoder.mean, "std": encoder.std})
        encoder.pretrained = True
        encoder.source = (f"pretrained torchvision {weights} ({'from the cache' if was_cached else 'downloaded'}: "
                          f"{cached})")
        if verbose:
            print(f"VGG-19 encoder: {encoder.source}")
    else:
        encoder.load_state_dict({**_fallback_state_dict(), "mean": encoder.mean, "std": encoder.std})
        why = f"could not be loaded ({note})" if pretrained else "were not requested"
        encoder.pretrained = False
        encoder.source = (f"NOT pretrained: deterministic He-normal VGG-19 (seed {FALLBACK_SEED}), "
                          f"because the ImageNet weights {why}")
        if verbose:
            print(f"VGG-19 encoder: {encoder.source}")
    encoder.eval().requires_grad_(False)
    return encoder.to(device)


# -------------------------------------------------------------------------------------------- Keras
KERAS_VGG19_NOTOP = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"  # the name keras.applications caches


def keras_vgg19_cache_file() -> str:
    """Where ``keras.applications.VGG19(weights="imagenet", include_top=False)`` keeps its download:
    ``$KERAS_HOME/models/`` (default ``~/.keras/models/``)."""
    import os

    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models", KERAS_VGG19_NOTOP)


def load_vgg19_encoder_keras(pretrained: bool = True, verbose: bool = True):
    """Keras VGG-19 up to ``block4_conv1`` (= relu4_1) via ``keras.applications.VGG19``, channels-last.

    Returns ``(model, preprocess, pretrained, source)``: ``model`` maps preprocessed (N, H, W, 3)
    images to the list ``[relu1_1, relu2_1, relu3_1, relu4_1]``; ``preprocess`` maps RGB images in
    [0, 1] to the model's input (Keras' own "caffe" preprocessing for the ImageNet weights; the
    ImageNet mean/std normalization of the PyTorch encoder for the fallback, so the fallback computes
    exactly what pt05's fallback computes). Offline, prints one line and uses ``fallback_vgg19_arrays``.
    """
    import contextlib
    import io
    import os

    import keras

    base, note = None, ""
    cached = keras_vgg19_cache_file()
    was_cached = os.path.exists(cached)
    if pretrained:
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # Keras prints a "Downloading data" line of its own
                # a file already in Keras' cache is read as it is (Keras checked its hash when it downloaded it)
                base = keras.applications.VGG19(include_top=False, weights=cached if was_cached else "imagenet",
                                                input_shape=(None, None, 3))
        except Exception as err:  # offline
            note = _one_line(err)
    if base is not None:
        def preprocess(images):
            return keras.applications.vgg19.preprocess_input(images * 255.0)
        is_pretrained = True
        source = (f"pretrained keras.applications.VGG19 ImageNet weights "
                  f"({'from the cache' if was_cached else 'downloaded'}: {cached})")
        if verbose:
            print(f"VGG-19 encoder: {source}")
    else:
        base = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
        for name, (weight, bias) in fallback_vgg19_arrays().items():
            base.get_layer(KERAS_LAYER[name]).set_weights([weight.transpose(2, 3, 1, 0), bias])  # OIHW -> HWIO
        mean = np.asarray(IMAGENET_MEAN, dtype=np.float32)
        std = np.asarray(IMAGENET_STD, dtype=np.float32)

        def preprocess(images):
            return (images - mean) / std
        why = f"could not be loaded ({note})" if pretrained else "were not requested"
        is_pretrained = False
        source = (f"NOT pretrained: deterministic He-normal VGG-19 (seed {FALLBACK_SEED}), "
                  f"because the ImageNet weights {why}")
        if verbose:
            print(f"VGG-19 encoder: {source}")
    outputs = [base.get_layer(KERAS_LAYER[f"conv{t[4:]}"]).output for t in TAPS]
    model = keras.Model(base.input, outputs, name="vgg19_to_relu4_1")
    model.trainable = False
    return model, preprocess, is_pretrained, source


# ------------------------------------------------------------------------------------------ images
CONTENT_IMAGES = ("chelsea", "astronaut", "coffee", "rocket")
STYLE_IMAGES = ("immunohistochemistry", "hubble_deep_field", "brick", "gravel")
IMAGE_CREDITS = {
    "chelsea": "Chelsea the cat, Stefan van der Walt, CC0 (scikit-image)",
    "astronaut": "Eileen Collins, NASA, public domain (scikit-image)",
    "coffee": "coffee cup, Rachel Michetti, CC0 (scikit-image)",
    "rocket": "DSCOVR launch, SpaceX, public domain (scikit-image)",
    "immunohistochemistry": "IHC-stained colonic glands, CMMI, no known copyright restrictions (scikit-image)",
    "hubble_deep_field": "Hubble eXtreme Deep Field, NASA, public domain (scikit-image)",
    "brick": "brick wall texture, CC0Textures, CC0 (scikit-image)",
    "gravel": "gravel texture, CC0Textures, CC0 (scikit-image)",
}


def load_image(name: str, size: int) -> np.ndarray:
    """A scikit-image sample picture (shipped with the package, no download) as float32 RGB in [0, 1],
    shape (size, size, 3): the largest centred square, resized with anti-aliasing. Grayscale
    textures are repeated over the three channels."""
    if name not in IMAGE_CREDITS:
        raise ValueError(f"unknown image {name!r}; choose one of {sorted(IMAGE_CREDITS)}")
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    import skimage.data
    from skimage.transform import resize

    image = getattr(skimage.data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    image = image[..., :3].astype(np.float32) / 255.0
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image[top:top + side, left:left + side]
    out = resize(square, (size, size), order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def random_crops(names, size: int, count: int, rng: np.random.Generator, scale: tuple = (0.35, 1.0)) -> np.ndarray:
    """``count`` random square crops (side a random fraction ``scale`` of the picture's short side),
    each resized to ``size``, from the pictures ``names``: float32 (count, size, size, 3) in [0, 1]."""
    import skimage.data
    from skimage.transform import resize

    out = np.empty((count, size, size, 3), dtype=np.float32)
    cache = {}
    for k in range(count):
        name = names[int(rng.integers(len(names)))]
        if name not in cache:
            image = getattr(skimage.data, name)()
            if image.ndim == 2:
                image = np.stack([image] * 3, axis=-1)
            cache[name] = image[..., :3].astype(np.float32) / 255.0
        image = cache[name]
        h, w = image.shape[:2]
        side = max(size, int(min(h, w) * rng.uniform(*scale)))
        top, left = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
        crop = image[top:top + side, left:left + side]
        out[k] = np.clip(resize(crop, (size, size), order=1, anti_aliasing=side > size,
                                preserve_range=True), 0.0, 1.0)
    return out
