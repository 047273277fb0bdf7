"""Image backends and annotation."""
