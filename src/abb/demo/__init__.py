"""Synthetic demo data: Italian SMEs and partners in their real cities and sectors."""
