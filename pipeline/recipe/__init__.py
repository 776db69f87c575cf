"""The recipe: its schema and --set overrides, the models and freeze plans it names, and the preflight that
checks all of it before any work."""
