"""Deals between connected parties: amounts in minor units, a state machine with history, payments."""
