from enum import StrEnum


class SendMediaJsonSendMediaJsonGupshupMediaType(StrEnum):
    ALBUM = "album"
    AUDIO = "audio"
    DOCUMENT = "document"
    IMAGE = "image"
    VIDEO = "video"

    def __str__(self) -> str:
        return str(self.value)
