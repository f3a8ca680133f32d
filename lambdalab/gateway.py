"""The one endpoint of the local cloud: 127.0.0.1:PORT, routed by the SigV4 credential scope.

Each request's signature is parsed once (``iam.sigv4.parse``) and travels in the environ.  A
request signed for ``lambda`` goes to lambdalab's Lambda API; one signed for another service goes
to that service's app in moto (in this process, unpatched), chosen the way moto's own dispatcher
chooses it from the credential scope, but never through the dispatcher, whose ``/moto-api/``
(moto's state, IAM secrets included, and a reset) and instance-metadata paths are not AWS and
are not reachable here.  A scope naming a service moto does not serve gets a clean 4xx.  An
unsigned request goes to the Lambda API if its path is the Lambda API's, is refused for its
missing authentication if it is a JSON (``X-Amz-Target``) or query (``Action=``) call, and is
otherwise an anonymous S3 request.  Everything but Lambda passes the IAM guard first, which
names the caller and judges the call; Lambda's API judges its own operations.

moto was written for well-formed requests: when it raises on bad input (unparsable JSON or XML,
a missing parameter), the request is answered as the service answers malformed input
(SerializationException, MalformedXML, ValidationError, ...), and moto's HTML error pages
become the service's unknown-operation error; no traceback ever leaves the endpoint.  Paths
under ``/_lambdalab/`` are lambdalab's own (presigned code downloads); paths under ``/lambda-url/``
are function URLs (``function_urls``), judged by Lambda's rules for them, paths under
``/execute-api/`` API Gateway's HTTP APIs (``http_api``), and ``GET /SimpleNotificationService-<id>.pem``
the certificate of SNS records' signatures, public as in AWS.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Callable, Iterable
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError

from botocore.model import OperationNotFoundError

from .function_urls import PREFIX as FUNCTION_URLS
from .http_api import PREFIX as HTTP_APIS
from .httpd import HEADERS, HTTPServer, WSGIApp, answer, request_body
from .iam import denials, sigv4
from .iam.denials import Refused
from .iam.guard import MALFORMED, Guard, headers_of, send
from .sources import s3 as s3_events
from .sources import sns as sns_events

log = logging.getLogger(__name__)
_LAMBDA_PATH = re.compile(r"/20\d\d-\d\d-\d\d/")  # the Lambda API's paths are versioned by a date
_BAD_INPUT = (ValueError, LookupError, TypeError, AttributeError, ExpatError, ParseError)
_SNS_CERTIFICATE = re.compile(r"/SimpleNotificationService-[0-9a-f]+\.pem")  # no S3 bucket has capitals
_NOT_AWS = ("moto_api", "instance_metadata")  # moto's own API and EC2's metadata service are no AWS API


class Gateway:
    def __init__(self, lambda_app: WSGIApp, own_app: WSGIApp, guard: Guard, urls_app: WSGIApp, apis_app: WSGIApp,
                 port: int = 0, listener: socket.socket | None = None) -> None:
        self._lambda, self._own, self._guard, self._urls, self._apis = lambda_app, own_app, guard, urls_app, apis_app
        self._moto = MotoApps()
        self._server = HTTPServer(self._route, port=port, name="lambdalab-gateway", listener=listener)
        self.port = self._server.port
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def _route(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)  # only the guard says which account moto serves
        service: str | None = None  # unknown until the signature is read
        try:
            if environ.get("PATH_INFO", "").startswith(HTTP_APIS):  # API Gateway's HTTP APIs: no IAM auth served
                service = "execute-api"
                return self._apis(environ, start_response)
            if environ.get("PATH_INFO", "").startswith("/_lambdalab/"):
                service = "s3"  # presigned downloads, answered as S3 answers presigned URLs
                return self._own(environ, start_response)
            if _SNS_CERTIFICATE.fullmatch(environ.get("PATH_INFO", "")) and environ["REQUEST_METHOD"] == "GET":
                service = "sns"  # a record's SigningCertUrl: public, as in AWS
                return _certificate(environ, start_response)
            sig = environ[sigv4.SIGNATURE] = sigv4.parse(environ)
            if environ.get("PATH_INFO", "").startswith(FUNCTION_URLS):  # signed (AWS_IAM) or not (NONE)
                service = "lambda"
                return self._guard(service, environ, self._urls, start_response)
            service = sig.service if sig else _unsigned_service(environ)
            if service == "lambda":
                return self._guard(service, environ, self._lambda, start_response)
            app = self._moto.app(service, environ) if service else None
            if app is None and service:
                raise Refused("unknown-service", f"lambdalab serves no service named '{service}' (the service "
                                                 "of the request's credential scope).")
            region = sig.region if sig else "us-east-1"

            def serve(env: dict, respond: Callable) -> Iterable[bytes]:
                if service == "s3" and (refused := s3_events.refusal(env, request_body(env), region,
                                                                     env.get("HTTP_X_MOTO_ACCOUNT_ID", ""))):
                    return send(respond, denials.respond(service, headers_of(env), refused))
                return self._moto.call(app, service, env, respond)
            return self._guard(service, environ, serve, start_response)
        except Refused as refused:  # a malformed signature names no service: answer as the request looks
            service = _unsigned_service(environ) if service is None else service
            return send(start_response, denials.respond(service, headers_of(environ), refused))
        except Exception:
            log.exception("internal error routing %s %s", environ["REQUEST_METHOD"], environ["RAW_URI"])
            return send(start_response, denials.respond(service or "", headers_of(environ), Refused("internal")))


def _certificate(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """The certificate of an SNS record's ``SigningCertUrl``, fetched from this endpoint with the URL's path."""
    pem = sns_events.certificate(environ["PATH_INFO"].lstrip("/"))
    if pem is None:
        return send(start_response, (404, [("Content-Type", "text/plain")], b"Not Found"))
    return send(start_response, (200, [("Content-Type", "application/x-x509-ca-cert")], pem))


def _unsigned_service(environ: dict) -> str:
    """Where an unsigned request goes: "lambda" for the Lambda API's paths, "" (refused as unauthenticated)
    for a JSON or query call, else "s3" (anonymous)."""
    if _LAMBDA_PATH.match(environ.get("PATH_INFO", "")):
        return "lambda"
    if "HTTP_X_AMZ_TARGET" in environ or "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "") or \
            "Action=" in environ.get("QUERY_STRING", ""):
        return ""
    return "s3"


class MotoApps:
    """moto's per-service apps, found by the service a request was signed for.

    ``_backends`` (host -> moto backend name) and ``_apps`` (backend -> its Flask app) are caches
    guarded by ``_lock``; creating an app takes milliseconds, so it happens once per backend."""

    def __init__(self) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app

        self._dispatcher = DomainDispatcherApplication(create_backend_app)
        self._create = create_backend_app
        self._backends: dict[str, str | None] = {}
        self._apps: dict[str, WSGIApp] = {}
        self._lock = threading.Lock()

    def app(self, service: str, environ: dict) -> WSGIApp | None:
        """The app that serves ``service`` (a SigV4 signing name), or None when moto serves no such service."""
        sig: sigv4.Signature | None = environ.get(sigv4.SIGNATURE)
        date, region = (sig.date, sig.region) if sig else ("19700101", "us-east-1")
        scope = f"{date}/{region}/{service}/aws4_request"  # what moto's dispatcher reads the service from
        probe = dict(environ, HTTP_AUTHORIZATION=f"{sigv4.ALGORITHM} Credential=-/{scope}")
        try:
            host = self._dispatcher.infer_service_region_host(probe, environ.get("PATH_INFO", ""))
        except Exception:  # e.g. DynamoDB without X-Amz-Target: no operation to find a host for
            raise Refused("unknown-service", "The request names no operation this service knows.") from None
        finally:
            environ["wsgi.input"].seek(0)
        with self._lock:
            if host not in self._backends:
                self._backends[host] = self._dispatcher.get_backend_for_host(host) if host else None
            backend = self._backends[host]
            if backend is None or backend.startswith(_NOT_AWS):
                return None
            if backend == "apigateway" and environ.get("PATH_INFO", "").startswith("/v2/"):
                # moto serves HTTP APIs (v2) inside the REST APIs' app, whose models import an OpenAPI
                # validator and jsonschema with every format library (about 20 MB a kernel keeps): v2's own
                # app serves the same routes without them
                backend = "apigatewayv2"
            if backend not in self._apps:
                self._apps[backend] = self._create(backend)
            return self._apps[backend]

    def call(self, app: WSGIApp, service: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Run moto's ``app``; its crashes and HTML error pages become the service's own errors."""
        from moto.core.request import (
            PRESERVED_HEADER_NAMES_ENVIRON_KEY,
            environ_key_for_header,
            should_preserve_original_header_name,
        )

        names = {environ_key_for_header(name): name for name, _ in environ[HEADERS]
                 if should_preserve_original_header_name(name)}
        if names:  # S3 metadata keys with underscores, which WSGI cannot tell from dashes
            environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names
        try:
            status, headers, chunks = answer(app, environ)
        except OperationNotFoundError as e:  # a query or JSON call naming an action the service does not have
            return send(start_response, denials.respond(service, headers_of(environ), Refused(
                "unknown-service", f"Could not find operation {e}.")))
        except _BAD_INPUT as e:
            log.info("moto could not process %s %s: %r", environ["REQUEST_METHOD"], environ["RAW_URI"], e)
            kind = "malformed-input" if service != "s3" or request_body(environ) else "invalid-argument"
            return send(start_response, denials.respond(service, headers_of(environ), Refused(kind, MALFORMED)))
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        # moto's HTML page for a path it has no route for; a HEAD's 404 has no page to tell (S3's HeadObject and
        # HeadBucket answer a missing key or bucket so), and is passed on
        page = content_type.startswith("text/html") and environ["REQUEST_METHOD"] != "HEAD"
        if status[:3] in ("404", "405") and page:
            return send(start_response, denials.respond(service, headers_of(environ), Refused(
                "unknown-service", f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')} is not an "
                                   "operation of this service.")))
        start_response(status, headers)
        return chunks
