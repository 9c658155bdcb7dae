"""Benchmarks of the design against the seeds' polling pattern (``python -m bench``; not deployed)."""
