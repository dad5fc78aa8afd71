"""Unit tests of course_utils (and the small pure helpers of the instructor pipeline)."""
import json
import subprocess
import sys

import numpy as np
import pytest

import course_utils as cu
from course_utils import artifacts, course_info
from course_utils.datasets import load_digits_split


def test_import_is_framework_neutral():
    code = ("import sys, course_utils, course_utils.datasets, course_utils.plotting, course_utils.artifacts;"
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras', 'jax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == []


def test_choose_sizes_picks_the_mode(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    quick, full = {"epochs": 1, "n": 2}, {"epochs": 30, "n": 200}
    assert cu.choose_sizes("quick", quick, full) == quick
    assert cu.choose_sizes("full", quick, full) == full


def test_autograder_always_gets_quick(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert cu.is_autograder()
    assert cu.resolve_mode("full") == "quick"
    assert cu.choose_sizes("full", {"epochs": 1}, {"epochs": 30}) == {"epochs": 1}


def test_bad_mode_and_mismatched_knobs_are_clear_errors():
    with pytest.raises(ValueError, match="'fast'"):
        cu.resolve_mode("fast")
    with pytest.raises(ValueError, match="epochs"):
        cu.choose_sizes("quick", {"n": 1}, {"n": 2, "epochs": 3})


def test_seed_everything_is_reproducible():
    cu.seed_everything(3)
    a = np.random.rand(4)
    cu.seed_everything(3)
    np.testing.assert_array_equal(a, np.random.rand(4))


def test_describe_names_mode_and_knobs(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    line = cu.describe("quick", {"epochs": 2})
    assert "mode=quick" in line and "epochs=2" in line


def test_digits_split_shapes_and_standardization():
    x_train, y_train, x_test, y_test = load_digits_split(test_fraction=0.25, seed=0)
    assert x_train.shape[1] == x_test.shape[1] == 64
    assert len(x_train) + len(x_test) == 1797 and len(x_test) == 449
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert set(np.unique(y_train)) == set(range(10))
    varying = x_train.std(axis=0) > 0
    np.testing.assert_allclose(x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(x_train.std(axis=0)[varying], 1, atol=1e-4)
    with pytest.raises(ValueError, match="1.5"):
        load_digits_split(test_fraction=1.5)


def test_reference_artifacts_round_trip(tmp_path):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = artifacts.save_reference("demo", directory=tmp_path, x=x, eps=np.float32(1e-5))
    assert path == tmp_path / "demo.npz"
    loaded = artifacts.load_reference("demo", directory=tmp_path)
    np.testing.assert_array_equal(loaded["x"], x)
    assert loaded["eps"].dtype == np.float32
    with pytest.raises(FileNotFoundError, match="make references"):
        artifacts.load_reference("missing", directory=tmp_path)
    with pytest.raises(ValueError, match="../x"):
        artifacts.reference_path("../x")


def test_course_address_is_configured_once():
    lab = "pt01_batchnorm"
    assert course_info.colab_url(lab).endswith(f"/{course_info.REPO_SLUG}/blob/{course_info.BRANCH}/release/{lab}/{lab}.ipynb")
    assert course_info.pip_spec() == f"git+https://github.com/{course_info.REPO_SLUG}.git@{course_info.BRANCH}"
    assert course_info.colab_url(lab) in course_info.colab_badge(lab)


def test_torch_helpers():
    torch = pytest.importorskip("torch")
    from course_utils.torch_utils import benchmark, pick_device, to_tensors

    assert pick_device("cpu") == torch.device("cpu")
    x, y = to_tensors(np.zeros((2, 3)), np.array([1, 2]))
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    m = benchmark(torch.add, torch.ones(8), torch.ones(8), label="add", min_run_time=0.01)
    assert m.median > 0


def test_lms_student_ids():
    from instructor.lms import owner_of

    assert owner_of(("Jane Doe_12345_assignsubmission_file_", "x.ipynb")).student_id == "jane-doe-12345"
    assert owner_of(("doejane_12345_67890_Copy of pt01_batchnorm.ipynb",)).student_id == "doejane-12345"
    assert owner_of(("doejane_LATE_12345_67890_pt01_batchnorm.ipynb",)).late
    assert owner_of(("jane_pt01_batchnorm.ipynb",), "pt01_batchnorm").student_id == "jane"
    assert owner_of(("Copy of pt01_batchnorm.ipynb",), "pt01_batchnorm") is None
    assert owner_of(("___",)) is None


def test_grade_table_lists_every_student_and_lab():
    from instructor.pipeline import Grade, grade_table

    table = grade_table([Grade("ann", "pt01", 9, 9), Grade("bob", "pt01", 0, 9), Grade("ann", "tf01", 3, 7)])
    lines = table.splitlines()
    assert lines[0].split() == ["student", "pt01", "tf01"]
    assert lines[1].split() == ["ann", "9/9", "3/7"]
    assert lines[2].split() == ["bob", "0/9", "-"]


def test_measurements_stay_on_this_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    assert artifacts.load_measurements("pt02_benchmark") is None
    path = artifacts.save_measurements("pt02_benchmark", {"device": "cpu", "rows": [{"variant": "copy", "x_copy": 1.0}]})
    assert path == tmp_path / "pt02_benchmark.json"
    assert artifacts.load_measurements("pt02_benchmark")["rows"][0]["x_copy"] == 1.0
    monkeypatch.delenv("COURSE_RESULTS_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert artifacts.results_dir() == tmp_path / "cache" / "normalization-course"


def test_can_reach_says_no_for_a_host_that_cannot_exist():
    from course_utils.datasets import can_reach

    assert can_reach("host.invalid", timeout=1.0) is False  # RFC 2606: never resolves


def test_sweep_table_aligns_headers_with_their_columns():
    from course_utils.plotting import format_table, sweep_table

    steps = np.array([[64, 32], [64, 32]])
    gap = np.array([[0.25, -0.5], [0.0, 0.0]])
    text = sweep_table(("bn", "gn"), [1, 2], {"steps": (steps, "7d"), "gap": (gap, "+8.3f")})
    lines = text.splitlines()
    assert lines[0] == "       B  steps     gap"
    assert lines[1] == "BN     1     64  +0.250"
    assert lines[4] == "GN     2     32  +0.000"
    assert len({len(line) for line in lines}) == 1, "every row as wide as the header"
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        sweep_table(("bn", "gn"), [1, 2], {"gap": (gap[0], "+8.3f")})
    with pytest.raises(ValueError, match="needs a width"):
        format_table([("x", ".2f")], [(1.0,)])
    with pytest.raises(ValueError, match="2 values for 1 columns"):
        format_table([("x", "5.2f")], [(1.0, 2.0)])


def test_gn_paper_panel_reads_left_to_right_and_says_it_is_quoted():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_utils.plotting import GN_PAPER, plot_gn_paper

    fig, ax = plt.subplots()
    plot_gn_paper(ax)
    bn_line = ax.get_lines()[0]
    assert list(bn_line.get_xdata()) == sorted(GN_PAPER["batch"])
    assert list(bn_line.get_ydata()) == [34.7, 27.3, 24.8, 23.7, 23.6]  # paired with their batch sizes
    assert not ax.xaxis_inverted() and "QUOTED" in ax.get_title()
    plt.close(fig)


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_projection_says_once_how_long_the_loop_takes_without_the_first_step(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    clock, printed = FakeClock(), []
    eta = cu.Projection("sweep", total=1000, unit="images", mode="full", device="cpu", note="at B = 1's rate",
                        clock=clock, out=printed.append)
    clock.now += 30.0  # the first piece pays a one-time cost
    assert eta.advance(10) is None and eta.projected_seconds() is None
    clock.now += 1.0
    assert eta.advance(10) is None, "below min_seconds and below a twentieth of the work: too early to say"
    clock.now += 3.0
    line = eta.advance(20)  # 30 images in 4 s after the first piece: 990 left at 7.5 images/s
    assert printed == [line]
    assert eta.projected_seconds() == pytest.approx(30.0 + 4.0 / 30 * 990)
    assert "40 of 1000 images in 34.0 s" in line and "about 3 min" in line and "(cpu)" in line and "(at B = 1's rate)" in line
    assert 'MODE = "quick"' in line, "full mode says how to switch"
    clock.now += 50.0
    assert eta.advance(500) is None and len(printed) == 1, "said once"


def test_projection_in_quick_mode_and_under_the_autograder_gives_no_switch_hint(monkeypatch):
    for env in (None, "autograde"):
        if env:
            monkeypatch.setenv("NBGRADER_EXECUTION", env)
        clock, printed = FakeClock(), []
        eta = cu.Projection("training", total=6, mode="quick" if env is None else "full", clock=clock, out=printed.append)
        for _ in range(3):
            clock.now += 0.01
            eta.advance()
        assert len(printed) == 1 and "3 of 6 steps" in printed[0] and "MODE" not in printed[0], printed


def test_projection_rejects_bad_arguments():
    for kwargs in ({"total": 0}, {"total": 10, "min_units": 1}, {"total": 10, "mode": "fast"}):
        with pytest.raises(ValueError):
            cu.Projection("x", **kwargs)


def test_roofline_verdict_refuses_impossible_fractions_and_cache_resident_data(tmp_path):
    from course_utils.roofline import last_level_cache_bytes, roofline_caveats, roofline_verdict
    for index, (level, size) in enumerate(((1, "48K"), (2, "2048K"), (3, "32M"))):
        (tmp_path / f"index{index}").mkdir()
        (tmp_path / f"index{index}" / "level").write_text(f"{level}\n")
        (tmp_path / f"index{index}" / "size").write_text(f"{size}\n")
    assert last_level_cache_bytes(tmp_path) == 32 * 1024 * 1024
    assert last_level_cache_bytes(tmp_path / "missing") is None
    good = {"copy": 1.0, "fused": 0.93, "eager": 0.2}
    big, small, cache = 512 * 1024 * 1024, 2 * 1024 * 1024, 32 * 1024 * 1024
    assert roofline_caveats(good, big, on_cpu=True, cache_bytes=cache) == []
    assert roofline_verdict(good, big, on_cpu=True, cache_bytes=cache).startswith("a memory roofline")
    impossible = {**good, "nn.LayerNorm": 8.57}
    (beat,) = roofline_caveats(impossible, big, on_cpu=False)
    assert "nn.LayerNorm" in beat and "8.57x" in beat and "fused" not in beat
    (cached,) = roofline_caveats(good, small, on_cpu=True, cache_bytes=cache)
    assert "cache" in cached and "2.0 MiB" in cached
    assert roofline_caveats(good, small, on_cpu=False, cache_bytes=cache) == [], "a GPU's tensors are not in the CPU cache"
    assert roofline_verdict(impossible, small, on_cpu=True, cache_bytes=cache).startswith("NOT a memory roofline")
    with pytest.raises(ValueError):
        roofline_caveats(good, big, on_cpu=False, tolerance=0.9)


def test_edge_ssim_tells_kept_layout_from_an_unrelated_picture():
    from course_utils import pretrained, stylization

    content = pretrained.load_image("chelsea", 64)
    style = pretrained.load_image("immunohistochemistry", 64)
    assert stylization.edge_ssim(content, content) == pytest.approx(1.0)
    assert stylization.edge_ssim(0.3 * content, content) == pytest.approx(1.0, abs=1e-6)  # blind to contrast
    assert stylization.edge_ssim(content[None], content) == pytest.approx(1.0)  # a batch of one is accepted
    unrelated = stylization.edge_ssim(style, content)
    flipped = stylization.edge_ssim(content[:, ::-1], content)
    blend = stylization.edge_ssim(0.5 * content + 0.5 * style, content)
    assert abs(unrelated) < 0.1 and abs(flipped) < 0.2, (unrelated, flipped)
    assert unrelated + 0.1 < blend < 0.9, blend
    assert abs(stylization.edge_ssim(np.zeros_like(content), content)) < 0.05  # a flat picture has no edges
    with pytest.raises(ValueError, match=r"same size"):
        stylization.edge_ssim(content, pretrained.load_image("chelsea", 32))
    with pytest.raises(ValueError, match=r"at least 7x7 pixels .*got 5x5"):
        stylization.edge_ssim(np.zeros((5, 5, 3)), np.zeros((5, 5, 3)))
    with pytest.raises(ValueError, match=r"\(8, 8\)"):
        stylization.edges(np.zeros((8, 8)))


@pytest.mark.parametrize("before, after, kept, unrelated, style_words, layout_words", [
    (2.0, 0.5, 0.9, 0.0, "fell 4x", "most of the content's layout"),
    (2.0, 1.5, 0.3, 0.0, "barely moved", "some of the content's layout"),
    (2.0, 3.0, 0.05, 0.0, "did not fall", "layout is lost"),
    (0.0, 0.0, 0.62, 0.5, "nothing to move", "some of"),  # 0.12 above the unrelated picture, 0.24 of the way to 1
])
def test_stylization_verdict_is_worded_on_the_numbers(before, after, kept, unrelated, style_words, layout_words):
    from course_utils import stylization

    lines = stylization.verdict(before, after, kept, unrelated, pretrained=False)
    assert style_words in lines[0] and layout_words in lines[1], lines
    assert "NON-pretrained" in lines[2]
    assert "ImageNet weights" in stylization.verdict(before, after, kept, unrelated, pretrained=True)[2]


def test_stylization_report_and_its_errors():
    from course_utils import pretrained, stylization

    content = pretrained.load_image("chelsea", 32)
    measured = stylization.measure({"content": content, "dark": 0.5 * content}, content, lambda p: float(p.mean()))
    assert measured["content"][1] == pytest.approx(1.0) and measured["dark"][0] == pytest.approx(0.5 * content.mean())
    text = stylization.report(measured, before="content", after="dark", unrelated="content", pretrained=False)
    assert text.splitlines()[0].startswith("picture") and "the rule applied" in text
    with pytest.raises(ValueError, match=r"after='stylized' is not one of the measured pictures"):
        stylization.report(measured, before="content", after="stylized", unrelated="content", pretrained=False)
    with pytest.raises(ValueError, match=r"style_after must be a finite, non-negative loss, got nan"):
        stylization.verdict(1.0, float("nan"), 0.5, 0.0, pretrained=False)
    fig = stylization.plot_edges({"content": content, "dark": 0.5 * content}, title="t")
    assert len(fig.axes) == 2


@pytest.mark.parametrize("bn, gn, words", [
    ((0.26, 0.03, 0.02), (0.03, 0.03, 0.04), "shows the GN paper's finding"),
    ((0.26, 0.03, 0.02), (0.30, 0.05, 0.03), "Both degrade"),
    ((0.03, 0.03, 0.02), (0.03, 0.03, 0.04), "does not show the GN paper's finding"),
    ((0.04, 0.03, 0.01), (0.02, 0.02, 0.02), "does not show"),  # 4x the error but only 3 points: not sharp
])
def test_small_batch_verdict_is_worded_on_the_numbers(bn, gn, words):
    from course_utils.plotting import small_batch_verdict

    lines = small_batch_verdict(("bn", "gn"), (2, 8, 32), np.array([bn, gn]))
    assert words in lines[2], lines
    assert lines[0].startswith(f"BN: test error {100 * bn[0]:.2f}% at B = 2 vs {100 * bn[2]:.2f}% at B = 32")
    assert "the rule applied" in lines[3]


def test_small_batch_verdict_rejects_bad_shapes_and_norms():
    from course_utils.plotting import small_batch_verdict

    with pytest.raises(ValueError, match=r"errors has shape \(2, 2\), expected \(2, 3\)"):
        small_batch_verdict(("bn", "gn"), (2, 8, 32), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"must include 'bn' and 'gn', got \['bn', 'ln'\]"):
        small_batch_verdict(("bn", "ln"), (2, 32), np.zeros((2, 2)))


def test_small_batch_report_and_plot_take_seeds_and_check_shapes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from course_utils.plotting import plot_error_sweep, plot_small_batch_sweep, small_batch_report

    errors = np.array([[[0.30, 0.22], [0.02, 0.02]], [[0.03, 0.03], [0.04, 0.02]]])  # norms x B x seeds
    text = small_batch_report(("bn", "gn"), (2, 32), np.array([[674, 42], [674, 42]]), errors, errors + 0.01)
    header, bn2 = text.splitlines()[:2]
    assert "seeds: lowest" in header and "train() at B" in header
    assert bn2.split()[:6] == ["BN", "2", "674", "26.00%", "22.00%", "30.00%"], bn2
    assert "shows the GN paper's finding" in text
    with pytest.raises(ValueError, match=r"same shape \(norms, batch sizes, seeds\), got \(2, 2\) and \(2, 2\)"):
        small_batch_report(("bn", "gn"), (2, 32), np.zeros((2, 2)), errors.mean(2), errors.mean(2))
    fig, ax = plt.subplots()
    plot_error_sweep(ax, ("bn", "gn"), (2, 32), errors, "t")
    bn_line = ax.get_lines()[0]
    assert list(bn_line.get_ydata()) == pytest.approx([26.0, 2.0]) and ax.get_ylabel() == "test error (%)"
    plt.close(fig)
    fig = plot_small_batch_sweep(("bn", "gn"), (2, 32), errors, errors + 0.01, titles=("eval", "train"), run="(r)")
    assert [a.get_title().splitlines()[0] for a in fig.axes[:2]] == ["this run: eval", "this run: train"]
    assert fig.axes[2].get_title().startswith("QUOTED")
    plt.close(fig)


def test_expected_retracing_hides_only_that_warning():
    code = ("from course_utils import tf_utils\nimport tensorflow as tf\n"
            "with tf_utils.expected_retracing():\n"
            "    tf.get_logger().warning('5 out of the last 5 calls to <f> triggered tf.function retracing.')\n"
            "    tf.get_logger().warning('kept inside')\n"
            "tf.get_logger().warning('after: triggered tf.function retracing')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)  # TF: own process
    assert out.returncode == 0, out.stderr[-2000:]
    assert "5 out of the last 5" not in out.stderr and "kept inside" in out.stderr and "after: triggered" in out.stderr
