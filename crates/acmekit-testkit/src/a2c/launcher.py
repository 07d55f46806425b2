"""Serves acme2certifier's WSGI application on 127.0.0.1 over TLS.

Written by acmekit-testkit and run by it from acme2certifier's venv:
    python launcher.py PORT CERT_PEM KEY_PEM
with ACME_SRV_CONFIGFILE set. The package's own acme2certifier_wsgi.py is
not run as a program (it would bind 0.0.0.0:80); its `application` is
imported and served by the standard library's wsgiref, one request at a
time, on a listening socket whose connections are wrapped in TLS here.
"""

import ssl
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from acme2certifier.share.acme2certifier_wsgi import application

PORT, CERT, KEY = int(sys.argv[1]), sys.argv[2], sys.argv[3]

CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
CONTEXT.load_cert_chain(CERT, KEY)


def https_application(environ, start_response):
    """The URLs acme2certifier builds (directory, Location, the JWS url
    check) take their scheme from here."""
    environ["wsgi.url_scheme"] = "https"
    environ["HTTPS"] = "on"
    return application(environ, start_response)


class TLSServer(WSGIServer):
    """Does each TLS handshake with a timeout; a failed one only drops that
    connection (socketserver ignores OSError from get_request)."""

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.settimeout(30)
        return CONTEXT.wrap_socket(sock, server_side=True), addr


server = make_server(
    "127.0.0.1", PORT, https_application, server_class=TLSServer,
    handler_class=WSGIRequestHandler,
)
print(f"acme2certifier listening on https://127.0.0.1:{PORT}", flush=True)
server.serve_forever()
