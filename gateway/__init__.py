"""Parley gateway: FastAPI app, WebSocket protocol, sessions, LLM providers, storage, auth."""
