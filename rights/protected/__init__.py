"""Protected entries: well-known characters, styles and public figures that nobody has
registered, kept by staff so that their matches deny as "protected, not licensed"."""
