"""The CFD desk's durable side: the engine's journal and snapshots (the arithmetic is app/domain)."""
