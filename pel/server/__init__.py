"""`pel serve`: models over HTTP with overrides, Prometheus metrics, structured logs, limits and auth."""
