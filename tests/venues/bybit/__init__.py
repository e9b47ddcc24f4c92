"""Bybit v5 replica (unified trading account): spot and linear categories."""
