"""Benchmarks (``make bench``): a settings module, URLs and floor views of their own,
so nothing the benchmark needs is in the production URL configuration."""
