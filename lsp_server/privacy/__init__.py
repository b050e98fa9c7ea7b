"""Where code may go, and which files never go anywhere. Never imports pygls or a network client."""
