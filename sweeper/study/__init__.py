"""What a study is: its search space and planned designs, its stored configuration, launching
it, and its status."""
