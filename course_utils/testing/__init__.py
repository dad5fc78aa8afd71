"""The course's shared test harness: one definition of each test helper the labs use.

* :mod:`.rules` - what each from-scratch exercise must not call (read by the notebooks' run-time blocking
  and by the grader's static review); plain data.
* :mod:`.common` - NumPy comparisons, ``raises_value_error``, blocking by attribute (framework-neutral).
* :mod:`.torch` - PyTorch: ``builtins_blocked`` (function and dispatch modes), ``assert_matches_builtin``,
  ``assert_same_gradients``, ``paired``, ``blocked``.
* :mod:`.keras` - Keras/TF: ``builtins_blocked``, ``assert_matches_builtin``, ``gradients``.

Notebooks do not import these modules: ``make tidy`` stamps the helpers a lab names into its locked
harness cell (``instructor/harness.py``), so students read the code their tests run and the grader treats
it as locked test code. Importing this package imports no framework.
"""
