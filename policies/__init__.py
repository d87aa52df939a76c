"""Opt-in policies: the typed, versioned policy document and its versions per asset."""
