"""The knowledge schema shared by ingestion (writes) and the engine (reads)."""
