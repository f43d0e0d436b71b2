"""State shared by every replica through Redis (or kept in the process without it)."""
