"""Scenario and persona catalog, and the prompts composed from them."""
