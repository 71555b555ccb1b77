"""Africa Business Bridge: the platform that connects Italian SMEs with partners in KE, TZ and ET."""

__version__ = "0.1.0"
