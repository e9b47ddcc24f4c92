"""Shared replica machinery: the sim-backed core, the aiohttp server base, WebSocket
sessions, fault plans, fee presentation and the ccxt URL override rule."""
