from enum import StrEnum


class ProviderMapEventsType0(StrEnum):
    FAILED = "failed"
    NOT_CONFIGURED = "not_configured"
    SUBSCRIBED = "subscribed"

    def __str__(self) -> str:
        return str(self.value)
