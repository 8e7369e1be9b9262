"""Benchmarks: run with ``python -m bench.<name>`` from the project root."""
