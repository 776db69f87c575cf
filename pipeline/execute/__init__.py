"""A run, above the stage mechanics: the resolved, checked recipe (prepare), the run loop that drives the stages of
train/, distill/, video/ and export/ into the run folder (loop), and what it shows on the console (console)."""
