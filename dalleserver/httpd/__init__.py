"""The HTTP/1.1 engine: parsing, connections, workers, the server, routing and files.

It knows nothing of the application it serves: it is given one object that implements
``interface.Application`` and calls only that.
"""

from dalleserver.httpd.connection import Timeouts
from dalleserver.httpd.interface import Application, EngineHooks
from dalleserver.httpd.messages import (
    Exchange,
    Headers,
    ProtocolError,
    Request,
    Response,
    http_date,
)
from dalleserver.httpd.server import HTTPServer

__all__ = [
    "Application", "EngineHooks", "Exchange", "HTTPServer", "Headers", "ProtocolError",
    "Request", "Response", "Timeouts", "http_date",
]
