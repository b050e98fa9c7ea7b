"""A Redis-like key-value store kept in memory (the service talks to Redis through the same calls)."""

from desk import config


class MemoryStore:
    def __init__(self, url=None):
        self.url = url or config.redis_url()
        self.values = {}

    def get(self, key, default=None):
        return self.values.get(key, default)

    def set(self, key, value):
        self.values[key] = value

    def incr(self, key):
        """Add one to the number at ``key`` (0 when missing) and return it."""
        self.values[key] = self.values.get(key, 0) + 1
        return self.values[key]

    def delete(self, key):
        self.values.pop(key, None)

    def keys(self, prefix=""):
        return sorted(k for k in self.values if k.startswith(prefix))
