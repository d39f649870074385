"""Re-training the best configurations on the test split: planning the runs (``plan``) and what
they say (``results``, with the statistics of ``sweeper.stats``)."""
