"""The gated generator: generation jobs and their state machine (`models.py`, `jobs.py`), run
one at a time by `tasks.run_job` in the in-process worker (`worker.py`), released in one
transaction (`release.py`) and taken down when a consent they used is withdrawn
(`takedown.py`), and their clip files (`clip_files.py`); the diffusion pipeline that turns a
cleared prompt into the frames of a clip (`pipeline.py`, the tiny untrained default in
`tiny_pipeline.py`), their MP4 (`video.py`) and the signed C2PA manifest embedded in it
(`provenance.py`, signed with the certificate of `signing_identity.py`); the creator's routes
(`api.py`, `service.py`)."""
