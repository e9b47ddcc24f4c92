"""OpenSQT risk service."""
