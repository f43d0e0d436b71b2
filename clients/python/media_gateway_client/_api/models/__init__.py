"""Contains all the data models used in inputs/outputs"""

from .events_app import EventsApp
from .events_app_status import EventsAppStatus
from .events_stored import EventsStored
from .health import Health
from .http_validation_error import HTTPValidationError
from .media_type import MediaType
from .media_type_support import MediaTypeSupport
from .message_error import MessageError
from .message_error_code import MessageErrorCode
from .message_response import MessageResponse
from .message_response_status import MessageResponseStatus
from .message_status_entry import MessageStatusEntry
from .message_status_entry_status import MessageStatusEntryStatus
from .problem import Problem
from .problem_errors_type_0_item import ProblemErrorsType0Item
from .problem_stage_type_0 import ProblemStageType0
from .provider_events_body import ProviderEventsBody
from .provider_map import ProviderMap
from .provider_map_breaker import ProviderMapBreaker
from .provider_map_delivery_formats import ProviderMapDeliveryFormats
from .provider_map_delivery_max_bytes import ProviderMapDeliveryMaxBytes
from .provider_map_events_apps import ProviderMapEventsApps
from .provider_map_events_type_0 import ProviderMapEventsType0
from .provider_map_inputs_item import ProviderMapInputsItem
from .provider_map_media_types import ProviderMapMediaTypes
from .provider_map_mode import ProviderMapMode
from .provider_map_target_fields import ProviderMapTargetFields
from .provider_map_target_fields_additional_property import (
    ProviderMapTargetFieldsAdditionalProperty,
)
from .provider_map_url import ProviderMapUrl
from .providers_map import ProvidersMap
from .providers_map_providers import ProvidersMapProviders
from .rate_limit import RateLimit
from .rate_limit_per import RateLimitPer
from .readiness import Readiness
from .readiness_breakers import ReadinessBreakers
from .readiness_breakers_additional_property import ReadinessBreakersAdditionalProperty
from .readiness_providers import ReadinessProviders
from .readiness_providers_additional_property import (
    ReadinessProvidersAdditionalProperty,
)
from .readiness_redis import ReadinessRedis
from .readiness_status import ReadinessStatus
from .send_media_files_send_media_form import SendMediaFilesSendMediaForm
from .send_media_files_send_media_form_media_type import (
    SendMediaFilesSendMediaFormMediaType,
)
from .send_media_files_send_media_form_provider import (
    SendMediaFilesSendMediaFormProvider,
)
from .send_media_json_send_media_json_gupshup import SendMediaJsonSendMediaJsonGupshup
from .send_media_json_send_media_json_gupshup_media_type import (
    SendMediaJsonSendMediaJsonGupshupMediaType,
)
from .send_media_json_send_media_json_kaizala import SendMediaJsonSendMediaJsonKaizala
from .send_media_json_send_media_json_kaizala_media_type import (
    SendMediaJsonSendMediaJsonKaizalaMediaType,
)
from .send_media_response import SendMediaResponse
from .validation_error import ValidationError
from .validation_error_context import ValidationErrorContext

__all__ = (
    "EventsApp",
    "EventsAppStatus",
    "EventsStored",
    "HTTPValidationError",
    "Health",
    "MediaType",
    "MediaTypeSupport",
    "MessageError",
    "MessageErrorCode",
    "MessageResponse",
    "MessageResponseStatus",
    "MessageStatusEntry",
    "MessageStatusEntryStatus",
    "Problem",
    "ProblemErrorsType0Item",
    "ProblemStageType0",
    "ProviderEventsBody",
    "ProviderMap",
    "ProviderMapBreaker",
    "ProviderMapDeliveryFormats",
    "ProviderMapDeliveryMaxBytes",
    "ProviderMapEventsApps",
    "ProviderMapEventsType0",
    "ProviderMapInputsItem",
    "ProviderMapMediaTypes",
    "ProviderMapMode",
    "ProviderMapTargetFields",
    "ProviderMapTargetFieldsAdditionalProperty",
    "ProviderMapUrl",
    "ProvidersMap",
    "ProvidersMapProviders",
    "RateLimit",
    "RateLimitPer",
    "Readiness",
    "ReadinessBreakers",
    "ReadinessBreakersAdditionalProperty",
    "ReadinessProviders",
    "ReadinessProvidersAdditionalProperty",
    "ReadinessRedis",
    "ReadinessStatus",
    "SendMediaFilesSendMediaForm",
    "SendMediaFilesSendMediaFormMediaType",
    "SendMediaFilesSendMediaFormProvider",
    "SendMediaJsonSendMediaJsonGupshup",
    "SendMediaJsonSendMediaJsonGupshupMediaType",
    "SendMediaJsonSendMediaJsonKaizala",
    "SendMediaJsonSendMediaJsonKaizalaMediaType",
    "SendMediaResponse",
    "ValidationError",
    "ValidationErrorContext",
)
