"""The gated generator: a diffusion pipeline that turns a cleared prompt into the frames of a
clip (`pipeline.py`, the tiny untrained default in `tiny_pipeline.py`), their MP4
(`video.py`) and the signed C2PA manifest embedded in it (`provenance.py`, signed with the
certificate of `signing_identity.py`)."""
