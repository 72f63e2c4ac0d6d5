"""Development and test tooling; never packaged into the Lambda."""
