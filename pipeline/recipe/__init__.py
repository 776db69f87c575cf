"""The recipe, configuration only: its schema and every section's (augment, distill, video, export, sweep), --set
overrides, the stage and freeze-spec rules, and the models and freeze plans it names."""
