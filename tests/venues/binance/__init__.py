"""Binance replica: spot (/api/v3, WebSocket API, /ws streams) and USDⓈ-M futures (/fapi)."""
