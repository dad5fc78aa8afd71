"""Unit tests of course_utils.pretrained (the AdaIN labs' VGG-19 encoder and pictures).

Nothing here touches the network: the "weights available" path is simulated with a fake weights
object, the "unavailable" path with a simulated download failure. The Keras loader is tested in a
subprocess (TensorFlow and torchvision must not share a process).
"""
import subprocess
import sys
import textwrap
import urllib.error

import numpy as np
import pytest

from course_utils import pretrained as pr


def test_import_is_framework_free():
    code = ("import sys, course_utils.pretrained;"
            "print([m for m in ('torch', 'torchvision', 'tensorflow', 'keras') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"importing course_utils.pretrained imported {out.strip()}"


def test_fallback_arrays_are_deterministic_he_normal():
    a, b = pr.fallback_vgg19_arrays(), pr.fallback_vgg19_arrays()
    assert list(a) == [name for name, _, _ in pr._convs()]
    for name, cin, cout in pr._convs():
        w, bias = a[name]
        assert w.shape == (cout, cin, 3, 3) and w.dtype == np.float32 and bias.shape == (cout,)
        np.testing.assert_array_equal(w, b[name][0], err_msg=f"{name}: not deterministic")
        assert not bias.any(), f"{name}: biases must be zero"
        assert abs(w.std() / np.sqrt(2 / (9 * cin)) - 1) < 0.05, f"{name}: std {w.std()} is not He-normal"
    assert not np.array_equal(a["conv1_1"][0], pr.fallback_vgg19_arrays(seed=1)["conv1_1"][0])


class FakeWeights:
    """Stands in for VGG19_Weights.IMAGENET1K_V1: get_state_dict returns a full VGG-19 state dict or fails."""

    url = "https://example.invalid/models/vgg19-fake.pth"

    def __init__(self, fail=False):
        self.fail, self.calls = fail, 0

    def __str__(self):
        return "VGG19_Weights.FAKE"

    def get_state_dict(self, progress=True, check_hash=False):
        import torch

        self.calls += 1
        if self.fail:
            raise urllib.error.URLError("[Errno -2] Name or service not known (simulated)")
        gen = torch.Generator().manual_seed(3)
        state, cin = {}, 3
        cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
        index = 0
        for v in cfg:
            if v == "M":
                index += 1
                continue
            state[f"features.{index}.weight"] = torch.randn(v, cin, 3, 3, generator=gen) * 0.05
            state[f"features.{index}.bias"] = torch.randn(v, generator=gen) * 0.01
            cin, index = v, index + 2
        state["classifier.0.weight"] = torch.zeros(4, 4)  # the loader must ignore everything but features[:21]
        return state


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    import torch.hub

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    return tmp_path


def test_weights_available_are_loaded(monkeypatch, capsys, hub_dir):
    import torch

    fake = FakeWeights()
    monkeypatch.setattr(pr, "_imagenet_weights", lambda: fake)
    encoder = pr.load_vgg19_encoder(pretrained=True, download=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert encoder.pretrained is True and fake.calls == 1
    assert len(lines) == 1 and "pretrained" in lines[0] and "NOT" not in lines[0], lines
    expected = fake.get_state_dict()
    for name, index in pr.TORCH_INDEX.items():
        torch.testing.assert_close(encoder.features[index].weight, expected[f"features.{index}.weight"])
    assert not any(p.requires_grad for p in encoder.parameters()) and not encoder.training
    feats = encoder(torch.rand(2, 3, 16, 24))
    assert list(feats) == list(pr.TAPS)
    assert [tuple(f.shape) for f in feats.values()] == [(2, 64, 16, 24), (2, 128, 8, 12), (2, 256, 4, 6), (2, 512, 2, 3)]


def test_weights_unavailable_fall_back_with_one_line(monkeypatch, capsys, hub_dir):
    import torch

    fake = FakeWeights(fail=True)
    monkeypatch.setattr(pr, "_imagenet_weights", lambda: fake)
    encoder = pr.load_vgg19_encoder(pretrained=True, download=True)
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert encoder.pretrained is False and fake.calls == 1
    assert len(lines) == 1 and "NOT pretrained" in lines[0] and "URLError" in lines[0], lines
    assert captured.err == ""
    arrays = pr.fallback_vgg19_arrays()
    for name, index in pr.TORCH_INDEX.items():
        np.testing.assert_array_equal(encoder.features[index].weight.numpy(), arrays[name][0])
    assert "NOT pretrained" in encoder.source
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    a = encoder(x)["relu4_1"]
    b = pr.load_vgg19_encoder(pretrained=False, verbose=False)(x)["relu4_1"]
    torch.testing.assert_close(a, b, rtol=0, atol=0)  # the fallback is deterministic


def test_no_download_when_not_cached(monkeypatch, capsys, hub_dir):
    fake = FakeWeights()
    monkeypatch.setattr(pr, "_imagenet_weights", lambda: fake)
    encoder = pr.load_vgg19_encoder(pretrained=True, download=False)
    assert encoder.pretrained is False and fake.calls == 0, "download=False must not call the download"
    assert "not cached" in capsys.readouterr().out


def test_upto_stops_early_and_rejects_bad_input():
    import torch

    encoder = pr.load_vgg19_encoder(pretrained=False, verbose=False)
    assert list(encoder(torch.rand(1, 3, 8, 8), upto="relu2_1")) == ["relu1_1", "relu2_1"]
    with pytest.raises(ValueError, match="upto"):
        encoder(torch.rand(1, 3, 8, 8), upto="relu5_1")
    with pytest.raises(ValueError, match="RGB"):
        encoder(torch.rand(1, 1, 8, 8))


def test_images_ship_with_scikit_image():
    for name in pr.CONTENT_IMAGES + pr.STYLE_IMAGES:
        image = pr.load_image(name, 24)
        assert image.shape == (24, 24, 3) and image.dtype == np.float32
        assert 0.0 <= image.min() and image.max() <= 1.0 and image.std() > 0.01, name
    crops = pr.random_crops(pr.STYLE_IMAGES, 16, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(crops, pr.random_crops(pr.STYLE_IMAGES, 16, 3, np.random.default_rng(0)))
    assert crops.shape == (3, 16, 16, 3)
    with pytest.raises(ValueError, match="unknown image"):
        pr.load_image("lena", 24)


KERAS_CHECK = textwrap.dedent("""
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np, keras
    from course_utils import pretrained as pr
    real = keras.applications.VGG19
    def fake(*args, weights=None, **kwargs):
        if weights == "imagenet" and MODE == "cached":
            raise AssertionError("a file in Keras' cache must be read, not downloaded again")
        if weights == "imagenet":
            if MODE == "fail":
                raise OSError("simulated: cannot reach storage.googleapis.com")
            weights = None  # stands in for the downloaded weights
        return real(*args, weights=weights, **kwargs)
    keras.applications.VGG19 = fake
    model, preprocess, pretrained, source = pr.load_vgg19_encoder_keras()
    x = np.random.default_rng(0).random((1, 16, 16, 3)).astype("float32")
    feats = model(preprocess(x))
    assert [tuple(f.shape) for f in feats] == [(1, 16, 16, 64), (1, 8, 8, 128), (1, 4, 4, 256), (1, 2, 2, 512)]
    assert "torch" not in sys.modules
    if MODE == "fail":
        assert pretrained is False and "NOT pretrained" in source
        w = model.get_layer("block3_conv2").get_weights()[0]
        np.testing.assert_array_equal(w, pr.fallback_vgg19_arrays()["conv3_2"][0].transpose(2, 3, 1, 0))
        np.save(OUT, np.asarray(feats[3]))
    else:
        assert pretrained is True and "NOT" not in source
        assert ("from the cache" in source) == (MODE == "cached"), source
    if MODE == "cached":  # the cached file's weights are the ones in the model
        w = model.get_layer("block3_conv2").get_weights()[0]
        np.testing.assert_array_equal(w, pr.fallback_vgg19_arrays(1)["conv3_2"][0].transpose(2, 3, 1, 0))
    print("OK")
""")


@pytest.mark.parametrize("mode", ["fail", "ok", "cached"])
def test_keras_loader_both_paths(mode, tmp_path):
    """Offline (download fails), downloaded (simulated), and a weights file already in Keras' cache."""
    import os

    from fake_weights import keras_vgg19_notop

    out = tmp_path / "keras_relu4_1.npy"
    if mode == "cached":
        keras_vgg19_notop(tmp_path / "keras-home")
    code = f"MODE = {mode!r}; OUT = {str(out)!r}\n" + KERAS_CHECK
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "KERAS_HOME": str(tmp_path / "keras-home")})
    assert proc.returncode == 0 and proc.stdout.strip().endswith("OK"), proc.stdout[-2000:] + proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("VGG-19 encoder")]
    assert len(lines) == 1 and ("NOT pretrained" in lines[0]) == (mode == "fail"), proc.stdout
    if mode == "fail":  # the Keras fallback computes what the PyTorch fallback computes
        import torch

        x = np.random.default_rng(0).random((1, 16, 16, 3)).astype("float32")
        encoder = pr.load_vgg19_encoder(pretrained=False, verbose=False)
        ref = encoder(torch.from_numpy(x).permute(0, 3, 1, 2))["relu4_1"].permute(0, 2, 3, 1).numpy()
        np.testing.assert_allclose(np.load(out), ref, rtol=1e-4, atol=1e-4)


def test_real_weights_api_reads_a_file_in_torch_cache(tmp_path, monkeypatch, capsys):
    """No fakes in the loader: torchvision's own weights API finds the file in $TORCH_HOME/hub/checkpoints."""
    import torch

    from fake_weights import FAKE_SEED, torch_vgg19_checkpoint

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch_vgg19_checkpoint(tmp_path)
    encoder = pr.load_vgg19_encoder(pretrained=True, download=False)
    assert encoder.pretrained is True and "from the cache" in capsys.readouterr().out
    expected = pr.fallback_vgg19_arrays(FAKE_SEED)["conv4_1"][0]
    np.testing.assert_array_equal(encoder.features[pr.TORCH_INDEX["conv4_1"]].weight.numpy(), expected)
    assert isinstance(encoder(torch.rand(1, 3, 8, 8))["relu4_1"], torch.Tensor)
