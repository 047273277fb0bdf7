"""Metrics, process statistics and health checks."""
