"""The append-only, hash-chained audit log that every domain (rights, likeness, and later
licensing and payouts) records its events in, with signed checkpoints of its head."""
