from enum import StrEnum


class ReadinessRedis(StrEnum):
    NOT_CONFIGURED = "not_configured"
    OK = "ok"
    UNREACHABLE = "unreachable"

    def __str__(self) -> str:
        return str(self.value)
