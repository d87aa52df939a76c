"""The face index: exact and approximate search over enrolled face templates, per model.

Importing this package loads NumPy only; torch loads when a torch device is chosen and
FAISS when a model first passes the approximate threshold. The index on Ray actors
(``sharded.py``) is imported only where it is configured.
"""

from likeness.index.face_index import FaceIndex
from likeness.index.types import FaceIndexError, FaceMatch, FaceTemplate

__all__ = ["FaceIndex", "FaceIndexError", "FaceMatch", "FaceTemplate"]
