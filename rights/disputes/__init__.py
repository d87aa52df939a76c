"""Disputes: any signed-in account may say that a live asset was registered or is used
improperly, or breaks the content standards; its holder answers, staff uphold or dismiss it.
An upheld dispute stops the asset licensing and earning (its standing becomes ``disputed``)."""
