"""The recipe as configuration: its schema and every section's (augment, distill, video, export, sweep), --set
overrides, the stage rules, and the models and freeze plans it names; it imports no package that runs a stage."""
