"""diffusers, transformers and sentence-transformers as this process runs them: the hub
switched off, whatever the caller set; no progress bars on stderr for what is read from a
local folder; and their modules imported by one thread at a time.

Their module trees overlap and load lazily, and two threads importing them at once can find
each other's modules half-initialised: with the warm-up building the text model's graph
(sentence-transformers) while the pipeline loaded (diffusers), diffusers failed with "cannot
import name 'PreTrainedModel' from 'transformers'" in 8 of 19 runs of bench/generation.py
(none of 16 since). Whoever imports them, or loads a model with them, holds
:func:`model_libraries` (a ``with`` block, or ``@model_libraries()`` on the function).
"""

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_importing = threading.RLock()


@contextmanager
def model_libraries() -> Iterator[None]:
    """Hold while importing those libraries and loading a model with them (the lock is
    reentrant: a load may build another model inside)."""
    with _importing:
        os.environ["HF_HUB_OFFLINE"] = "1"
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()
        yield
