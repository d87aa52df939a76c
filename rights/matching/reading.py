"""A prompt read once for every check of its text: folded and embedded.

The IP text check (`matcher.py`) and the content check (`content_check.py`) both look for words
in the folded prompt and compare its embedding with texts of their own; the sentence model is
most of the cost of either, so a clearance embeds its prompt once and hands both this reading.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rights.matching.encoder import SentenceEncoder
from rights.matching.folding import FoldedPrompt, fold_prompt


@dataclass(frozen=True)
class PromptReading:
    text: str
    folded: FoldedPrompt
    embedding: npt.NDArray[np.float32]  # unit length, by the encoder's model


def read_prompt(prompt: str, *, encoder: SentenceEncoder) -> PromptReading:
    return PromptReading(
        text=prompt, folded=fold_prompt(prompt), embedding=encoder.encode_one(prompt)
    )
