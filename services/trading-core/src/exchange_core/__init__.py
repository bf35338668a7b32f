"""Trading core: deterministic matching engine, risk, durability and the gRPC service."""
