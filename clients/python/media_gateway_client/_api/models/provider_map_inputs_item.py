from enum import StrEnum


class ProviderMapInputsItem(StrEnum):
    FILE = "file"
    URL = "url"

    def __str__(self) -> str:
        return str(self.value)
