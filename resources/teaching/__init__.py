"""Teaching material: the scoring rules and the metadata of the shipped teaching bank (no films)."""
