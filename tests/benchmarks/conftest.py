"""The benchmarks are scripts, not tests; the Change... fixture application is data."""

collect_ignore = ["change_app"]
