"""Claims: the evidence of the right a holder has to a character or style, and staff's
verification or rejection of it. An unverified asset may protect but never earns: its share
of a licence is held in the ledger until its claim is decided (payouts/held.py)."""
