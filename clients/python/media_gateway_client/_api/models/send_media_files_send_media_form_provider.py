from enum import StrEnum


class SendMediaFilesSendMediaFormProvider(StrEnum):
    GUPSHUP = "gupshup"
    KAIZALA = "kaizala"

    def __str__(self) -> str:
        return str(self.value)
