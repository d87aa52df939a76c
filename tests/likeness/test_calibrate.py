"""The threshold script: false match and false non-match rates on the photos at hand."""

from pathlib import Path

from faces import FACES_DIR

from likeness.backends.dlib_backend import DEFAULT_MATCH_THRESHOLD
from likeness.calibrate import calibrate, error_rates, person_of


def test_the_dlib_threshold_separates_the_photos_at_hand(dlib_backend):
    report = calibrate(FACES_DIR, backend=dlib_backend, threshold=DEFAULT_MATCH_THRESHOLD)
    assert report["photos"] == 4
    assert report["at_threshold"]["genuine_pairs"] == 3
    assert report["at_threshold"]["impostor_pairs"] == 3
    assert report["at_threshold"]["false_match_rate"] == 0.0
    assert report["at_threshold"]["false_non_match_rate"] == 0.0


def test_error_rates_count_each_side_of_the_threshold():
    pairs = [
        {"a": "x1", "b": "x2", "same_person": True, "similarity": 0.95},
        {"a": "x1", "b": "x3", "same_person": True, "similarity": 0.85},
        {"a": "x1", "b": "y1", "same_person": False, "similarity": 0.91},
        {"a": "x2", "b": "y1", "same_person": False, "similarity": 0.50},
    ]
    rates = error_rates(pairs, threshold=0.9)
    assert rates["false_match_rate"] == 0.5
    assert rates["false_non_match_rate"] == 0.5
    assert person_of(Path("obama_partial_face.jpg")) == person_of(Path("obama2.jpg")) == "obama"
