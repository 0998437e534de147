"""`alphapulse bench`: suites of speed figures, compared with a baseline to catch regressions."""
