"""Modal screens. They share one stylesheet, read when the first of them opens (Textual loads a
screen's CSS_PATH then), not parsed at start-up."""

# Relative to each screen's module, which sits in this folder.
SCREEN_STYLES = "../styles/screens.tcss"
