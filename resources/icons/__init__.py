"""The application icon: an SVG and its PNG renderings (see packaging/make_icons.py)."""
