"""OpenSQT engine service."""
