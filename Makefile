# Normalization in Deep Learning — instructor pipeline and tests.
# `make course` (main job) and `make test` build their own virtual environment in .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MODE ?= quick
LABS ?=
RUNTIME ?=
SUBMISSIONS ?=
LAB ?=
WORKERS ?=
SCHEDULER ?=
# LIMITS: grading limits as options, e.g. LIMITS="--cell-seconds 60 --memory-mb 8192" (python -m instructor grade --help)
LIMITS ?=
GRADE_ARGS = $(if $(WORKERS),--workers $(WORKERS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(LMS_ARG) $(LIMITS)
LABS_ARG := $(if $(LABS),--labs $(LABS))
LMS ?=
LMS_ARG := $(if $(LMS),--lms $(LMS))
# Debian packages the course uses beyond Python: headless Chromium and its driver (tests/test_browser.py)
# and bubblewrap (the grading sandbox). `make system-packages` installs the missing ones with apt-get
# when it runs as root; otherwise it says so in one line and the work goes on without them.
SYSTEM_PACKAGES := chromium chromium-driver bubblewrap
LOGS := build/logs

.DEFAULT_GOAL := help
.PHONY: help venv system-packages course execute references release collect class grade autograde feedback export bench-grading bench-full mutants diagnosis colab-check tidy test clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 17

$(VENV)/.installed: requirements.txt pyproject.toml
	@mkdir -p $(LOGS)
	@echo "installing $(VENV) from requirements.txt (log: $(LOGS)/venv.log)"
	@{ $(PYTHON) -m venv $(VENV) \
	  && $(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt \
	  && $(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e . ; } > $(LOGS)/venv.log 2>&1 \
	  || { tail -n 30 $(LOGS)/venv.log; echo "installing $(VENV) failed: see $(LOGS)/venv.log"; exit 1; }
	@touch $@

venv: $(VENV)/.installed  ## create .venv with the pinned versions (requirements.txt)

system-packages:  ## Debian packages: chromium chromium-driver (browser test), bubblewrap (grading sandbox); apt-get as root
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	missing=$$(echo $$missing); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "system packages: $$missing missing; installing needs root and apt-get, going on without (tests that need them skip, or fail under CI)"; \
	  exit 0; fi; \
	mkdir -p $(LOGS); echo "system packages: installing $$missing with apt-get (log: $(LOGS)/apt.log)"; \
	{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; } > $(LOGS)/apt.log 2>&1 \
	  || echo "system packages: apt-get failed (see $(LOGS)/apt.log); going on without $$missing"

course: venv system-packages  ## MAIN JOB: execute solutions (MODE=quick|full), release, grade the demo class
	@$(PY) -m instructor course --mode $(MODE) $(LABS_ARG)

execute: venv  ## run solution notebooks into build/executed/ (MODE=quick|full, LABS="pt01_batchnorm ...")
	@$(PY) -m instructor execute --mode $(MODE) $(LABS_ARG)

references: venv  ## regenerate cross-framework artifacts in course_utils/references/
	@$(PY) -m instructor references $(LABS_ARG)

release: venv  ## nbgrader generate_assignment: source/ -> release/
	@$(PY) -m instructor release $(LABS_ARG)

collect: venv  ## LMS download -> submitted/ (SUBMISSIONS=<Canvas/Moodle zip or folder> LAB=pt01_batchnorm)
	@test -n "$(SUBMISSIONS)" -a -n "$(LAB)" || { echo "usage: make collect SUBMISSIONS=<zip or folder> LAB=<lab>"; exit 2; }
	@$(PY) -m instructor collect "$(SUBMISSIONS)" --labs $(LAB)

class: venv system-packages  ## a real class in one go: SUBMISSIONS=<LMS zip or folder> LAB=<lab> [LMS=canvas|moodle] -> collect, grade, feedback, grades.csv, lms/
	@test -n "$(SUBMISSIONS)" -a -n "$(LAB)" || { echo "usage: make class SUBMISSIONS=<zip or folder> LAB=<lab>"; exit 2; }
	@$(PY) -m instructor class "$(SUBMISSIONS)" --labs $(LAB) $(GRADE_ARGS)

grade: venv system-packages  ## grade every submission in parallel (WORKERS=n, SCHEDULER=tcp://host:8786), resumable; feedback, grades.csv, report
	@$(PY) -m instructor grade $(LABS_ARG) $(GRADE_ARGS)

autograde: venv  ## plain nbgrader autograde of submitted/ (always quick mode)
	$(PY) -m instructor autograde $(LABS_ARG)

feedback: venv  ## feedback/ for every autograded submission (hidden tests removed)
	$(PY) -m instructor feedback $(LABS_ARG)

export: venv  ## grades.csv, the grade table, and the LMS import files in lms/ (LMS=canvas|moodle)
	$(PY) -m instructor export $(LMS_ARG)

bench-grading: venv  ## grading throughput: plain nbgrader vs the course's grader at 1 and 2 workers (numbers only)
	$(PY) benchmarks/grading.py $(if $(LAB),--lab $(LAB))

bench-full: venv  ## full mode's wall time per lab on this machine (measured, or projected from a cut run); LABS=...
	$(PY) benchmarks/full_mode.py $(LABS_ARG)

mutants: venv  ## grade the mutant library (tests/mutants/) against each lab's grade cells; per-lab table
	$(PY) -m instructor mutants $(LABS_ARG)

diagnosis: venv system-packages  ## diagnosis quality: every tests/mutants/ entry handed in and named against the catalogue; confusion table
	$(PY) -m instructor diagnosis $(LABS_ARG)

colab-check: venv  ## solution notebooks (quick, hidden tests) on Colab's versions: RUNTIME="2026.08 2026.07" (colab/*.txt; default all), LABS=...
	@$(PY) -m instructor colab-check $(if $(RUNTIME),--runtime $(RUNTIME)) $(LABS_ARG)

tidy: venv  ## strip outputs from source notebooks, stamp repository address (course_utils/course_info.py)
	$(PY) -m instructor tidy

test: venv system-packages  ## TEST COMMAND: unit tests, every lab in quick mode, release check, autograde, JupyterLab in a browser
	@$(PY) -m pytest -n 2 --dist loadgroup -q --durations=25

clean:  ## remove build outputs (not .venv, not a real class's gradebook)
	rm -rf build .pytest_cache
