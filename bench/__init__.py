"""Benchmarks: each prints one line ending in a ratio against a peer measured in the same run."""
