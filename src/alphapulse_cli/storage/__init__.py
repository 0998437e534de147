"""Object storage: S3 (and S3-compatible stores) for the archive, replay and the lake."""
