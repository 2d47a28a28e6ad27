"""Benchmarks: accuracy (DET), latency and cost, soak — kws side by side with its peers."""
