"""Benchmarks: commands that print their figures and write JSON under `bench/results/`,
each against a baseline measured in the same run (never part of the test suite)."""
