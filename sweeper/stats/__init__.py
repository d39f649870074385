"""Pure statistics, with nothing of a study or a task in them: intervals and tests of means
(``intervals``), and verdicts that hold at their stated level over a family of comparisons and
looks (``verdicts``)."""
