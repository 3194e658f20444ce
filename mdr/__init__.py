"""mdr: national master-data registries on PostgreSQL/PostGIS."""

__version__ = "0.1.0"
