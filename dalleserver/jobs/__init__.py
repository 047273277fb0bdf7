"""Concurrency: the generation pipeline, job queue and workers, locks, progress."""
