"""The fixed question set and the eval harness."""
