"""From a loaded film to provider requests: expansion into units, the checker, prompts."""
