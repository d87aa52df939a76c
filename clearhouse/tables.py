"""Imports every table module, so SQLModel's metadata knows them all (for Alembic and tests)."""


def import_all_tables() -> None:
    import audit.models  # noqa: F401
    import clearhouse.accounts.models
    import clearhouse.key_history
    import clearhouse.mail.models  # noqa: F401
    import generator.models  # noqa: F401
    import licensing.models
    import licensing.offers.models  # noqa: F401
    import likeness.models  # noqa: F401
    import notifications.models  # noqa: F401
    import payouts.models
    import payouts.payout_models  # noqa: F401
    import policies.models  # noqa: F401
    import rights.claims.models
    import rights.disputes.models
    import rights.matching.models
    import rights.models
    import rights.overlaps.models
    import rights.protected.models
    import rights.references.models  # noqa: F401
