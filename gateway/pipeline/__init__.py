"""The send pipeline: reading a request, knowing what a file is, fetching URLs, sending."""
