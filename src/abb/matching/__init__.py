"""Business matching: ranked, explained SME ↔ partner suggestions, their lifecycle and meetings."""
