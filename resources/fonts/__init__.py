"""The TrueType fonts the PDF report embeds (see README.md beside this file)."""
