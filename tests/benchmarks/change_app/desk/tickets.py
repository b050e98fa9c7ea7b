"""Tickets: create, close, list."""

from desk import config


def create_ticket(store, user, title):
    """A new open ticket, stored under ticket:<id>."""
    ticket_id = store.incr("ticket_id")
    ticket = {"id": ticket_id, "user": user, "title": title.strip(), "status": "open"}
    store.set(f"ticket:{ticket_id}", ticket)
    return ticket


def close_ticket(store, ticket_id):
    ticket = store.get(f"ticket:{ticket_id}")
    if ticket is None:
        raise KeyError(ticket_id)
    ticket["status"] = "closed"
    return ticket


def list_open(store):
    """Open tickets, oldest first."""
    tickets = [store.get(key) for key in store.keys("ticket:")]
    return sorted((t for t in tickets if t["status"] == "open"), key=lambda t: t["id"])
