"""mllmkit.backends: one `Model` protocol in front of every way of getting answers.

Import is light (no torch); the native backend loads torch only when opened.
"""

from mllmkit.backends.base import (
    BackendError,
    GenerationArgs,
    ImagePart,
    Message,
    Model,
    Request,
    Response,
    TextPart,
    supports_loglikelihood,
)
from mllmkit.backends.registry import SCHEMES, open_backend

__all__ = [
    "SCHEMES",
    "BackendError",
    "GenerationArgs",
    "ImagePart",
    "Message",
    "Model",
    "Request",
    "Response",
    "TextPart",
    "open_backend",
    "supports_loglikelihood",
]
