"""diffusers and transformers as the generator runs them: the hub switched off, whatever the
caller set, and no progress bars on stderr for what is read from a local folder."""

import os


def prepare_model_libraries() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
