from enum import StrEnum


class EventsAppStatus(StrEnum):
    FAILED = "failed"
    PENDING = "pending"
    SUBSCRIBED = "subscribed"

    def __str__(self) -> str:
        return str(self.value)
