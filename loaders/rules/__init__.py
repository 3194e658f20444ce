"""Rules every loader shares: text normalisation and identifier checks."""
