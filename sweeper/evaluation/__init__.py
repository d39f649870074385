"""Re-training the best configurations on the test split: planning the runs (``plan``), their
statistics (``stats``) and what they say (``results``)."""
