from enum import StrEnum


class ProblemStageType0(StrEnum):
    AUTH = "auth"
    POST = "post"
    SEND = "send"
    UPLOAD = "upload"

    def __str__(self) -> str:
        return str(self.value)
