"""Running a command: configs (compose, accepted keys, value checks), run pieces, run folders."""
