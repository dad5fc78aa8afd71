"""Where the course lives: the one place that names the repository.

Edit ``REPO_SLUG``/``BRANCH`` when you fork the course, then run ``make tidy``: it rewrites the
install line of every notebook's setup cell and the Colab badges (notebooks and README) from these
values, and ``tests/test_course_layout.py`` fails while anything still disagrees.
"""

REPO_SLUG = "normalization-course/normalization-in-deep-learning"
BRANCH = "main"


def repo_url() -> str:
    """HTTPS address of the course repository."""
    return f"https://github.com/{REPO_SLUG}"


def pip_spec() -> str:
    """The one pip argument that installs ``course_utils`` from the repository (Colab setup cells)."""
    return f"git+{repo_url()}.git@{BRANCH}"


def colab_url(lab: str) -> str:
    """'Open in Colab' address of a lab's student (release) notebook, e.g. ``colab_url("pt01_batchnorm")``."""
    return (f"https://colab.research.google.com/github/{REPO_SLUG}/blob/{BRANCH}"
            f"/release/{lab}/{lab}.ipynb")


def colab_badge(lab: str) -> str:
    """Markdown for the 'Open in Colab' badge of a lab."""
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab_url(lab)})")
