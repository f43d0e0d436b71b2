from enum import StrEnum


class RateLimitPer(StrEnum):
    PARTITION = "partition"
    PROVIDER = "provider"

    def __str__(self) -> str:
        return str(self.value)
