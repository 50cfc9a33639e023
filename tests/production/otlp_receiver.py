"""A tiny OTLP/HTTP receiver on loopback that keeps each request's raw body and headers."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


@dataclass(frozen=True)
class Captured:
    """One request as it arrived: its path, Content-Type, Content-Encoding and raw body."""

    path: str
    content_type: str
    content_encoding: str | None
    body: bytes


class Receiver:
    """Answers ``POST /v1/traces`` and ``POST /v1/logs`` with an empty success, as a collector.

    Use as a context manager; ``url`` is ``http://127.0.0.1:PORT``.
    """

    def __init__(self) -> None:
        self.requests: list[Captured] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(Captured(
                        self.path, self.headers.get("Content-Type", ""),
                        self.headers.get("Content-Encoding"), body))
                # an empty Export*ServiceResponse: full success
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def at(self, path: str) -> list[Captured]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


class Telemetry:
    """A TracerProvider and LoggerProvider exporting with the real OTLP/HTTP exporters."""

    def __init__(self, url: str, compression: Compression | None = None,
                 headers: dict[str, str] | None = None) -> None:
        resource = Resource.create({"service.name": "support-bot"})
        self.tracer_provider = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
            endpoint=f"{url}/v1/traces", timeout=5, compression=compression, headers=headers)))
        self.logger_provider = LoggerProvider(resource=resource)
        self.logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(
            endpoint=f"{url}/v1/logs", timeout=5, compression=compression, headers=headers)))
        self.tracer = self.tracer_provider.get_tracer("tests.otlp")
        self.logger = self.logger_provider.get_logger("tests.otlp")

    def flush(self) -> None:
        assert self.tracer_provider.force_flush(10_000)
        assert self.logger_provider.force_flush(10_000)

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
