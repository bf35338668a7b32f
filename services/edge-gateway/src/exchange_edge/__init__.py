"""Edge gateway: authenticated REST + WebSocket in front of the trading core.

Not built yet: it lands with the edge-gateway issue. The package exists so the layout,
the workspace and the contracts it will use are fixed now (see README.md beside it).
"""
