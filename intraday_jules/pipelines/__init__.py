"""Application layer: what crosses packages (ingest partition, feature partition, training,
trading session wiring, status). Imported by ``defs``, ``cli`` and ``service`` only."""
