"""`make bench`: the service measured against its physical limits, as ratios in one run."""
