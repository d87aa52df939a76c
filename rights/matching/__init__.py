"""The IP check: which registered characters, styles and people a prompt or a picture touches
(faces are matched in likeness/). The picture check is `images.py`; the rest is the text check.

By name, alias or handle, however disguised (`folding.py`, `name_index.py`), and by
description without any name (`semantic_index.py`, with the MiniLM sentence model of
`encoder.py`). `runtime.MatchingRuntime.match(session, prompt)` finds them; it keeps the
in-memory catalogue (`catalogue.py`) in step with the database (`store.py`). Each
`types.TextMatch` names the asset, the kind of evidence, a score and where in the prompt it was
found.

The content check (`content_check.py`) reads the same prompt for what it shows: the content
categories an owner's policy may exclude (`policies.document.ContentCategory`). It lives here
because it is a check of a prompt's text like the IP check, with the same sentence model, the
same folding and the same embedding of the prompt; `policies/` stays pure and receives only its
findings. `runtime.MatchingRuntime.check_text(session, prompt)`, what clearance calls, runs
both on one reading.

Nothing is imported here: media workers import ``image_fingerprints`` alone, without the
text matcher and its tables.
"""
