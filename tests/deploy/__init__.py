"""Deployment checks: the single binary, the systemd unit, packages and monitoring."""
