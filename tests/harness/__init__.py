"""Starts real servers (PostgreSQL, …) for the tests on free loopback ports in temporary directories."""
