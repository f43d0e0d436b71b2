from enum import StrEnum


class ProviderMapUrl(StrEnum):
    DOWNLOADED = "downloaded"
    PASSED_ON = "passed_on"

    def __str__(self) -> str:
        return str(self.value)
