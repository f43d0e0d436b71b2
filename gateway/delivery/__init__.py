"""Messages and their fate: the providers' events in, the clients' webhooks out."""
