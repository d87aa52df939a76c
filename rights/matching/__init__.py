"""The IP check: which registered characters, styles and people a prompt or a picture
touches. Faces are matched in likeness/; the image check here is ``images.py``."""
