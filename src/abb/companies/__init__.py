"""Company profiles: Italian SMEs and local partners in Kenya, Tanzania and Ethiopia."""
