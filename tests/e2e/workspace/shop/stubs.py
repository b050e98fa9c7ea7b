"""Functions still to write."""


def clamp(value, low, high):
    """Limit value to the range [low, high]."""
    raise NotImplementedError
