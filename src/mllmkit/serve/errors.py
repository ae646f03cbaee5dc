"""`APIError`: a refusal the client can act on, rendered as an OpenAI-style JSON error.

Every 4xx/5xx the server sends has the body
`{"error": {"message", "type", "param", "code"}}` (the shape OpenAI clients parse), so a
client library shows the message instead of a bare status code. `param` names the
offending field with its path (`messages[1].content[0].image_url.url`).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
SERVER_ERROR = "server_error"


class APIError(Exception):
    """An HTTP error with an OpenAI-style body; raise it anywhere in request handling."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers

    def body(self) -> dict[str, Any]:
        """The JSON body: `{"error": {"message", "type", "param", "code"}}`."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        """This error as a response."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    """A 400 `invalid_request_error` naming the field at fault."""
    return APIError(400, message, param=param, code=code)
