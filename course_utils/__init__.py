"""course_utils: datasets, plotting, benchmark and run-time helpers for the course's labs.

Importing this package imports neither PyTorch nor TensorFlow. Framework helpers live in
``course_utils.torch_utils`` and ``course_utils.tf_utils`` and are imported only when asked for.
"""
from .course_info import colab_badge, colab_url, pip_spec, repo_url
from .runtime import Projection, choose_sizes, describe, in_colab, is_autograder, resolve_mode, seed_everything

__version__ = "0.1.0"

__all__ = ["Projection", "choose_sizes", "colab_badge", "colab_url", "describe", "in_colab", "is_autograder",
           "pip_spec", "repo_url", "resolve_mode", "seed_everything", "__version__"]
