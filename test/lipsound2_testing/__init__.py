"""What the test folders share: tiny corpora and models, throw-away recipe dirs, artefacts
built once per test run.

Importable in the tests because pytest puts ``test/`` on ``sys.path`` (``pythonpath`` in
pyproject.toml); the name is not ``test``, which Python's standard library holds.
"""
