"""Prices and discounts."""


def apply_discount(price, percent):
    """Return the price reduced by a percentage."""
    if percent < 0 or percent > 100:
        raise ValueError("percent must be between 0 and 100")
    return round(price * (100 - percent) / 100, 2)
