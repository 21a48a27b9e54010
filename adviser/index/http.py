"""HTTP for the index client: kept-alive pooled connections, small retries, plain-words errors."""

from __future__ import annotations

import base64
import errno
import ipaddress
import socket
import ssl
import threading
import time
import urllib.request
import warnings
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import urllib3
import urllib3.connection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    InsecureRequestWarning,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util.connection import allowed_gai_family
from urllib3.util.retry import Retry
from urllib3.util.ssl_ import create_urllib3_context

# Gateways and overloaded servers answer these transiently; anything else is reported at once.
RETRY_STATUSES = frozenset({502, 503, 504})
CHUNK = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10


class TransportError(Exception):
    """The request got no usable HTTP answer (refused, timed out, TLS failure, ...)."""

    def __init__(self, url: str, cause: str) -> None:
        self.url = url
        self.cause = cause
        super().__init__(f"{url}: {cause}")


class AnalysisDeadline(Exception):
    """The analysis' total deadline passed: no further index request is made."""

    def __init__(self, seconds: float, url: str) -> None:
        self.seconds, self.url = seconds, url
        super().__init__(f"the analysis did not finish within its deadline of {seconds:g} s (last waiting on {url})")


class ResponseTooLarge(Exception):
    """The body is bigger than the caller agreed to read."""

    def __init__(self, url: str, size: int | None, limit: int) -> None:
        self.url, self.size, self.limit = url, size, limit
        super().__init__(f"{url}: body larger than {limit} bytes")


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    url: str  # final URL after redirects


class HttpSession:
    """GET requests to indexes with retries, deadlines and credentials; safe to share between threads.

    The connection pools behind it are shared by every session of the process (_SHARED_MANAGERS)."""

    def __init__(
        self,
        *,
        max_workers: int = 16,
        timeout: float = 30.0,
        ca_certs: str | None = None,
        retries: int = 2,
        proxy: str | None = None,
        response_budget: float | None = None,
    ) -> None:
        self.timeout = timeout
        # A response must be complete within this many seconds, however steadily it drips in.
        self.response_budget = response_budget
        self.deadline: tuple[float, float] | None = None  # (monotonic end, seconds) of the analysis
        self._pool_kwargs = {
            "num_pools": 32,
            # Callers may run their own threads beside the client's pool: leave room so that
            # no connection is opened only to be thrown away when the pool is full.
            "maxsize": max(2 * max_workers, 32),
            "timeout": urllib3.Timeout(connect=timeout, read=timeout),
            "retries": _IndexRetry(
                total=None,
                connect=retries,
                read=0,  # a slow index fails after one timeout, not several
                status=retries,
                other=0,
                redirect=0,
                status_forcelist=RETRY_STATUSES,
                backoff_factor=0.1,
                backoff_max=1.0,
                allowed_methods=frozenset({"GET", "HEAD"}),
                raise_on_status=False,
                raise_on_redirect=False,
                respect_retry_after_header=False,
            ),
        }
        self._ca_certs = ca_certs
        self._proxy = proxy
        self._retries = retries
        self._routes: dict[tuple[str, str], str | None] = {}  # (scheme, host) -> proxy URL or None
        self._lock = threading.Lock()
        self._credentials: dict[str, str] = {}  # host[:port] -> Authorization header value
        self._active = 0
        self._peak = 0
        self._latencies: dict[str, list[float]] = {}

    def add_credentials(self, url: str) -> None:
        """Remember the user-info of ``url`` (``https://user:password@host/...``) for its host.

        Requests to that host and port then carry HTTP basic authentication, as pip does for an
        index URL with credentials; the URLs themselves (pages, links, messages) never hold them.
        """
        parts = urlsplit(url)
        if "@" not in parts.netloc:
            return
        userinfo, host = parts.netloc.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
        with self._lock:
            self._credentials[host.lower()] = f"Basic {token}"

    def _authorized(self, url: str, headers: dict[str, str] | None) -> tuple[str, dict[str, str] | None]:
        """``url`` without user-info and ``headers`` with the host's credentials, when known."""
        parts = urlsplit(url)
        if "@" in parts.netloc:
            self.add_credentials(url)
            url = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
            parts = urlsplit(url)
        with self._lock:
            authorization = self._credentials.get(parts.netloc.lower()) if self._credentials else None
        if authorization is None:
            return url, headers
        return url, {**(headers or {}), "Authorization": authorization}

    def _manager(self, url: str, verify: bool) -> urllib3.PoolManager:
        """The pool for ``url``: direct or through its proxy, verifying TLS or not.

        Created on first use: a run served entirely from the cache never pays for TLS setup.
        """
        parts = urlsplit(url)
        verify = verify or parts.scheme != "https"
        route = (parts.scheme, parts.hostname or "")
        proxy = self._routes.get(route, "")
        if proxy == "":  # decided once per scheme and host: reading the environment is not free
            proxy = self._routes[route] = proxy_for(route[0], route[1], self._proxy)
        key = (verify, proxy, self._ca_certs, self.timeout, self._retries, self._pool_kwargs["maxsize"])
        with _SHARED_LOCK:
            manager = _SHARED_MANAGERS.get(key)
            if manager is not None:
                return manager
            if verify:
                tls = {"ssl_context": verifying_context(self._ca_certs)}
            else:
                # The user asked for this source to be read without TLS verification (verify_ssl = false).
                warnings.filterwarnings("ignore", category=InsecureRequestWarning)
                tls = {"cert_reqs": "CERT_NONE"}
            if proxy:
                manager = urllib3.ProxyManager(proxy, **tls, **self._pool_kwargs)
            else:
                manager = _pool_manager(**tls, **self._pool_kwargs)
            _SHARED_MANAGERS[key] = manager
            return manager

    def get(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        verify: bool = True,
        max_bytes: int | None = None,
    ) -> HttpResponse:
        """GET ``url``, following redirects, and read the whole body (at most ``max_bytes``).

        Redirects are followed here rather than by urllib3 so the final absolute URL is known
        (relative links on a page resolve against it).
        """
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._timed_get(url, headers, verify, max_bytes)
            location = response.headers.get("location")
            if response.status not in REDIRECT_STATUSES or not location:
                return response
            url = urljoin(url, location)
        raise TransportError(url, f"more than {MAX_REDIRECTS} redirects")

    def _timed_get(
        self, url: str, headers: dict[str, str] | None, verify: bool, max_bytes: int | None
    ) -> HttpResponse:
        kind = "range" if headers and "Range" in headers else "full"
        with self._lock:
            self._active += 1
            self._peak = max(self._peak, self._active)
        started = time.perf_counter()
        try:
            return self._get_once(url, headers, verify, max_bytes)
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                self._active -= 1
                self._latencies.setdefault(kind, []).append(elapsed)

    def download(
        self, url: str, target: BinaryIO, *, verify: bool = True, max_bytes: int | None = None
    ) -> int:
        """GET ``url`` (following redirects) into the open file ``target``, in chunks; the status.

        For files too big to hold in memory (sdists built for their metadata). A body over
        ``max_bytes`` raises ResponseTooLarge; the caller discards what was written.
        """
        for _hop in range(MAX_REDIRECTS + 1):
            url, headers = self._authorized(url, {"Accept-Encoding": "identity"})
            manager = self._manager(url, verify)
            until, left = self._budget(url)
            extra = {"timeout": self._timeout(left)} if self._timeout(left) is not None else {}
            try:
                response = manager.request(
                    "GET",
                    url,
                    headers=headers,
                    preload_content=False,
                    redirect=False,
                    **extra,
                )
            except HTTPError as exc:
                raise TransportError(url, describe(exc, self.timeout)) from None
            location = response.headers.get("location")
            if response.status in REDIRECT_STATUSES and location:
                response.drain_conn()
                response.release_conn()
                url = urljoin(url, location)
                continue
            if response.status != 200:
                response.drain_conn()
                response.release_conn()
                return response.status
            try:
                _stream_body(response, url, target, max_bytes, until)
            except TransportError:
                self._past_deadline(url)
                raise
            except HTTPError as exc:
                self._past_deadline(url)
                raise TransportError(url, describe(exc, self.timeout)) from None
            return response.status
        raise TransportError(url, f"more than {MAX_REDIRECTS} redirects")

    def traffic(self) -> dict[str, float]:
        """Requests made so far: counts and median latency (ms) of full and ranged GETs, peak concurrency."""
        with self._lock:
            result: dict[str, float] = {"peak_concurrency": self._peak}
            for kind, values in self._latencies.items():
                ordered = sorted(values)
                result[f"{kind}_requests"] = len(ordered)
                result[f"{kind}_median_ms"] = round(1000 * ordered[len(ordered) // 2], 1)
                result[f"{kind}_max_ms"] = round(1000 * ordered[-1], 1)
            return result

    def set_deadline(self, seconds: float | None) -> None:
        """Every request from now on ends by ``seconds`` from now (AnalysisDeadline after that)."""
        self.deadline = (time.monotonic() + seconds, seconds) if seconds else None

    def _budget(self, url: str) -> tuple[float | None, float | None]:
        """(monotonic time the response must be complete by, seconds that is) for a request now."""
        now = time.monotonic()
        until = now + self.response_budget if self.response_budget else None
        if self.deadline is not None:
            if now >= self.deadline[0]:
                raise AnalysisDeadline(self.deadline[1], url)
            until = min(until, self.deadline[0]) if until is not None else self.deadline[0]
        return until, (until - now if until is not None else None)

    def _timeout(self, left: float | None) -> urllib3.Timeout | None:
        if left is None or left >= self.timeout:
            return None  # the pool's
        return urllib3.Timeout(connect=max(left, 0.1), read=max(left, 0.1))

    def _get_once(
        self, url: str, headers: dict[str, str] | None, verify: bool, max_bytes: int | None
    ) -> HttpResponse:
        url, headers = self._authorized(url, headers)
        manager = self._manager(url, verify)
        until, left = self._budget(url)
        extra = {"timeout": self._timeout(left)} if self._timeout(left) is not None else {}
        # A kept-alive connection the server closed meanwhile shows up as a ProtocolError: retry once.
        for attempt in (1, 2):
            try:
                response = manager.request("GET", url, headers=headers, preload_content=False, redirect=False, **extra)
            except MaxRetryError as exc:
                raise TransportError(url, describe(exc.reason, self.timeout)) from None
            except ProtocolError as exc:
                if attempt == 1:
                    continue
                raise TransportError(url, describe(exc, self.timeout)) from None
            except HTTPError as exc:
                raise TransportError(url, describe(exc, self.timeout)) from None
            try:
                body = _read_body(response, url, max_bytes, until)
            except TransportError:
                self._past_deadline(url)  # the analysis' deadline, not this index's budget, ran out
                raise
            except ReadTimeoutError as exc:
                self._past_deadline(url)
                raise TransportError(url, describe(exc, self.timeout)) from None
            except ProtocolError as exc:
                if attempt == 1:
                    continue
                raise TransportError(url, describe(exc, self.timeout)) from None
            except HTTPError as exc:
                raise TransportError(url, describe(exc, self.timeout)) from None
            headers_out = {name.lower(): value for name, value in response.headers.items()}
            return HttpResponse(response.status, headers_out, body, url)
        raise AssertionError("unreachable")

    def _past_deadline(self, url: str) -> None:
        """A read that ran out of time because the analysis' deadline came: say so."""
        if self.deadline is not None and time.monotonic() >= self.deadline[0] - 0.05:
            raise AnalysisDeadline(self.deadline[1], url)

    def close(self) -> None:
        """Nothing to release: the connection pools are the process' (see _SHARED_MANAGERS)."""


# Connection pools outlive a session: a server's worker runs analysis after analysis against the
# same indexes, and a connection kept alive spares each analysis a TCP and TLS handshake per host.
# Only the sockets are shared: credentials, deadlines and statistics stay with each HttpSession.
_SHARED_MANAGERS: dict[tuple, urllib3.PoolManager] = {}
_SHARED_LOCK = threading.Lock()


class _ResolvedOnce:
    """Connection mixin: look a host name up once per process (for DNS_TTL), not once per connection.

    A cold run opens a dozen connections to one host at the same moment; resolvers that drop some
    of a burst of identical queries then stall a connection for their retry timeout (5 s here).
    The cached address is only used to open the socket: TLS still verifies the host name.
    """

    def _new_conn(self):  # type: ignore[no-untyped-def]
        name = self._dns_host
        try:
            address = resolve(name, self.port)
        except socket.gaierror as exc:
            raise HostNotResolved(self, name, exc) from exc
        if address == name:
            return super()._new_conn()
        self._dns_host = address  # ``host`` (SNI, certificate check) reads it only after connecting
        try:
            return super()._new_conn()
        finally:
            self._dns_host = name


class _HTTPConnection(_ResolvedOnce, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_ResolvedOnce, urllib3.connection.HTTPSConnection):
    pass


class _HTTPConnectionPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class HostNotResolved(NewConnectionError):
    """The host name of a URL does not resolve (no such name, or the resolver gave up)."""

    def __init__(self, connection: object, host: str, reason: socket.gaierror) -> None:
        self.host = host
        self.reason_text = reason.strerror or str(reason)
        super().__init__(connection, f"host name {host} could not be resolved ({self.reason_text})")


class _IndexRetry(Retry):
    """urllib3's retries, minus the hopeless ones: a host name that does not resolve (the lookup had
    its one quick retry in ``resolve``) and a refused or unroutable connection fail at once, so an
    unreachable index costs a moment, not minutes. Timeouts and 502/503/504 are still retried."""

    def increment(  # type: ignore[no-untyped-def, override]
        self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None
    ):
        if error is not None and _hopeless(error):
            raise MaxRetryError(_pool, url, error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


_HOPELESS_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH})


def _hopeless(error: BaseException) -> bool:
    if isinstance(error, HostNotResolved) or type(error).__name__ == "NameResolutionError":
        return True
    if isinstance(error, NewConnectionError):
        cause = error.__cause__ or error.__context__
        return isinstance(cause, OSError) and cause.errno in _HOPELESS_ERRNOS
    return False


DNS_TTL = 300.0
# A name that did not resolve is not looked up again for this long (every page of an index would
# otherwise wait for the resolver in turn).
NEGATIVE_DNS_TTL = 30.0
_addresses: dict[tuple[str, int], tuple[float, str]] = {}
_unresolved: dict[tuple[str, int], tuple[float, socket.gaierror]] = {}
_dns_lock = threading.Lock()


def resolve(host: str, port: int) -> str:
    """An address of ``host`` from a small process-wide cache (``host`` itself when the lookup
    gives nothing usable); socket.gaierror when the name does not resolve."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host
    except ValueError:
        pass
    key = (host, port)
    with _dns_lock:  # one lookup at a time: the burst is what loses queries
        now = time.monotonic()
        cached = _addresses.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        failed = _unresolved.get(key)
        if failed is not None and failed[0] > now:
            raise failed[1]
        try:
            infos = _lookup(host, port)
        except socket.gaierror as exc:
            _unresolved[key] = (time.monotonic() + NEGATIVE_DNS_TTL, exc)
            raise
        except OSError:
            return host  # let urllib3 report the failure in its own words
        if not infos:
            return host
        address = str(infos[0][4][0])
        _addresses[key] = (time.monotonic() + DNS_TTL, address)
        return address


def _lookup(host: str, port: int) -> list:
    """getaddrinfo, with one immediate retry when the resolver reports a temporary failure."""
    try:
        return socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno != socket.EAI_AGAIN:
            raise  # the name does not exist: asking again gives the same answer
    return socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)


def proxy_for(scheme: str, host: str, configured: str | None = None) -> str | None:
    """The proxy to reach ``host`` through, as pip and most tools decide it.

    ``configured`` (pip's ``proxy`` setting) applies to every host; otherwise the usual
    ``http_proxy`` / ``https_proxy`` variables, unless ``no_proxy`` names the host.
    """
    if configured:
        return configured if "://" in configured else f"http://{configured}"
    proxy = urllib.request.getproxies_environment().get(scheme)
    if not proxy or urllib.request.proxy_bypass_environment(host):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _pool_manager(**kwargs) -> urllib3.PoolManager:  # type: ignore[no-untyped-def]
    manager = urllib3.PoolManager(**kwargs)
    manager.pool_classes_by_scheme = {"http": _HTTPConnectionPool, "https": _HTTPSConnectionPool}
    return manager


_contexts: dict[str | None, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def verifying_context(ca_certs: str | None) -> ssl.SSLContext:
    """One TLS context per CA bundle for the whole process.

    Without it urllib3 loads the CA bundle again for every new connection (tens of ms of CPU
    each), which dominates when a cold run opens a dozen connections at once.
    """
    with _contexts_lock:
        context = _contexts.get(ca_certs)
        if context is None:
            context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
            if ca_certs:
                context.load_verify_locations(cafile=ca_certs)
            else:
                context.load_default_certs()
            _contexts[ca_certs] = context
        return context


def _chunks(response: urllib3.BaseHTTPResponse, url: str, max_bytes: int | None, until: float | None):
    """The body as it arrives (each piece one read, so a slow drip is seen), within ``max_bytes``
    and the time budget ``until`` (monotonic); the connection is dropped when either is passed."""
    declared = response.headers.get("content-length")
    if max_bytes is not None and declared and declared.isdigit() and int(declared) > max_bytes:
        response.close()  # drop the connection rather than read a body we do not want
        response.release_conn()
        raise ResponseTooLarge(url, int(declared), max_bytes)
    started, size = time.monotonic(), 0
    while chunk := response.read1(CHUNK):
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            response.close()
            response.release_conn()
            raise ResponseTooLarge(url, None, max_bytes)
        if until is not None and time.monotonic() > until:
            response.close()
            response.release_conn()
            raise TransportError(url, f"the answer was not complete after {time.monotonic() - started:.0f} s "
                                      f"({size} bytes): its time budget ran out")
        yield chunk
    response.release_conn()


def _read_body(response: urllib3.BaseHTTPResponse, url: str, max_bytes: int | None,
               until: float | None = None) -> bytes:
    return b"".join(_chunks(response, url, max_bytes, until))


def _stream_body(
    response: urllib3.BaseHTTPResponse, url: str, target: BinaryIO, max_bytes: int | None, until: float | None = None
) -> None:
    for chunk in _chunks(response, url, max_bytes, until):
        target.write(chunk)


def describe(error: BaseException | None, timeout: float) -> str:
    """The cause of a transport failure in plain words."""
    if isinstance(error, ReadTimeoutError):
        return f"no answer within {timeout:g} s (read timeout)"
    if isinstance(error, HostNotResolved):
        return f"the host name {error.host} could not be resolved ({error.reason_text})"
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2: test it first.
    if isinstance(error, NewConnectionError):
        text = str(error)
        if "refused" in text.lower():
            return "connection refused"
        return f"cannot connect ({text.split(': ', 1)[-1]})"
    if isinstance(error, ConnectTimeoutError):
        return f"could not connect within {timeout:g} s (connect timeout)"
    if isinstance(error, SSLError):
        return f"TLS error ({error})"
    if isinstance(error, ProtocolError):
        return f"connection broken ({error})"
    if isinstance(error, MaxRetryError):
        return describe(error.reason, timeout)
    if error is not None and "Name or service not known" in str(error):
        return "host name cannot be resolved"
    return str(error) if error is not None else "unknown error"
