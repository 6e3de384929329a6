"""Demo catalogue: synthetic French listings for the seeded product types.

``generator.py`` fills the title and description templates of ``vocabulary.json``
(keyed by category code); pure Python, standard library only.
"""
