from desk.store import MemoryStore
from desk.tickets import close_ticket, create_ticket, list_open


def test_create_and_list():
    store = MemoryStore()
    create_ticket(store, "ann", " Printer on fire ")
    second = create_ticket(store, "bob", "VPN down")
    close_ticket(store, 1)
    assert list_open(store) == [second]
