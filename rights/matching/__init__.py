"""The IP check: which registered characters, styles and people a prompt or a picture touches
(faces are matched in likeness/). The picture check is `images.py`; the rest is the text check.

By name, alias or handle, however disguised (`folding.py`, `name_index.py`), and by
description without any name (`semantic_index.py`, with the MiniLM sentence model of
`encoder.py`). `runtime.MatchingRuntime.match(session, prompt)` is the entry point for
clearance; it keeps the in-memory catalogue (`catalogue.py`) in step with the database
(`store.py`). Each `types.TextMatch` names the asset, the kind of evidence, a score and where in
the prompt it was found.

Nothing is imported here: media workers import ``image_fingerprints`` alone, without the
text matcher and its tables.
"""
