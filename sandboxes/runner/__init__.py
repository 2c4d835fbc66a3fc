"""The in-sandbox runner (`_harness_runner.py`), shipped as package data and
copied into every run's read-only /in; it runs with the image's Python."""
