"""Benchmark scripts, one per workload, run from the repository root as ``python -m benchmarks.NAME``
(see benchmarks/README.md); ``benchmarks.harness`` holds what they share. Not installed with jaxbias."""
