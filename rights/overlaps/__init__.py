"""One character, one owner: a character or style that overlaps another holder's asset, or a
protected entry, is held for moderators as an overlap case."""
