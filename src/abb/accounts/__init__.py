"""Accounts: users, roles, passwords, access and refresh tokens."""
