"""Settings of the help desk, read once at import."""

REDIS_HOST = "localhost"
REDIS_PORT = 6379
REDIS_DB = 0
SESSION_SECONDS = 3600
TOKEN_SECONDS = 900
MAX_TITLE_LENGTH = 80


def redis_url():
    """Where the store lives, as a Redis URL."""
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
