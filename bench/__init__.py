"""Benchmarks (not tests): ``framework`` and Flask side by side in one process.

Run ``python -m bench.run`` from the repository root; see ``bench/README.md``.
"""
