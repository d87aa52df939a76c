"""Reference pictures of characters and styles: what the IP image check compares input
pictures with. Owners upload them; only their perceptual fingerprints are kept."""
