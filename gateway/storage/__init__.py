"""PostgreSQL: the embedded server, migrations and the session store."""

from gateway.storage.store import SessionRecord, Store, TurnRecord

__all__ = ["SessionRecord", "Store", "TurnRecord"]
