"""OpenSQT connector service."""
