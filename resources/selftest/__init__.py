"""Small films the self-test decodes (see README.md beside this file)."""
