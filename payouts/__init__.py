"""Money: the double-entry ledger (ledger accounts, journal entries and their legs, cached
balances and their check) and what posts to it (a released generation's usage, its
reversal, an operator's adjustment of a wallet).

Credits bought through Stripe, payout runs and statements build on it.
"""
