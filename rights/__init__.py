"""Rights holders' assets (likeness, character, style), consent grants, revocations,
signed consent receipts and the append-only audit log."""
