"""Resilience primitives for provider calls: a circuit breaker and retry with backoff."""
