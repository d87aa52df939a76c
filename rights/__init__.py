"""Rights holders' assets (likeness, character, style), consent grants, revocations and
signed consent receipts."""
