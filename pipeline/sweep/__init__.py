"""Running sweeps: the grid of a recipe's ``sweep:`` section, its points run by an executor (one after another, one
per GPU, or as Ray tasks) through the point worker, the batch probe, and the successive-halving search. The report
that compares the finished points is :mod:`pipeline.compare`."""
