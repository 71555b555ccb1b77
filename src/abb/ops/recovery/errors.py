"""The one exception the recovery commands raise: its message is the one line an operator sees."""


class RecoveryError(Exception):
    """A refusal or failure, explained in one line (the CLI prints it and exits with status 1)."""
