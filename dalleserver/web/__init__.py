"""The HTTP layer: server, router, middleware and views."""
