from enum import StrEnum


class MessageErrorCode(StrEnum):
    MEDIA_FAILED = "media_failed"
    NOT_ON_WHATSAPP = "not_on_whatsapp"
    OPTED_OUT = "opted_out"
    OUTSIDE_SERVICE_WINDOW = "outside_service_window"
    PROVIDER_ERROR = "provider_error"
    RATE_LIMITED = "rate_limited"
    UNDELIVERABLE = "undeliverable"

    def __str__(self) -> str:
        return str(self.value)
