"""Licence offers: instead of a takedown, the owner of an asset that blocked an output offers
its creator a licence for that output at their current policy's price; the creator accepts
(the output is released and paid like any other) or declines."""
