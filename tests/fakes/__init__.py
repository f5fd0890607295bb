"""Local fakes of Google Cloud services for tests (loopback only)."""
