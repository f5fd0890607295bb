"""lakehouse: medallion lakehouse jobs for multi-location car-wash exports."""

__version__ = "0.1.0"
