# The user container of the Knative baseline in the agent bench: a plain
# HTTP server that calls a Lambda-style handler, as a Knative user would
# write it. Standard library only, so the baseline has no framework cost
# that Hearth's side does not have either.
#
#   python3 http-handler-server.py PORT TASK_ROOT MODULE.FUNCTION
#
# Every POST body is decoded as the JSON event and answered with the JSON
# of handler(event, None). It listens on 127.0.0.1 only.
import json
import socketserver
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, task_root, handler_name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path.insert(0, task_root)
mod_name, fn_name = handler_name.rsplit('.', 1)
handler = getattr(__import__(mod_name), fn_name)


class Handler(BaseHTTPRequestHandler):
    # Keep-alive, so the bench measures the request and not a TCP handshake;
    # it needs HTTP/1.1 and a Content-Length on every response.
    protocol_version = 'HTTP/1.1'
    # Headers and body leave in two writes; without TCP_NODELAY Nagle's
    # algorithm holds the body back until the client acknowledges the headers.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        length = int(self.headers.get('Content-Length') or 0)
        event = json.loads(self.rfile.read(length) or b'{}')
        body = json.dumps(handler(event, None)).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # One line per request on stderr would be measured too.
        pass


class Server(ThreadingHTTPServer):
    # One thread per connection (ThreadingHTTPServer), so a readiness probe's
    # idle keep-alive connection cannot block the one the bench uses.

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the address's name with
        # socket.getfqdn, which may ask a DNS server; nothing here needs it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = '127.0.0.1', port


Server(('127.0.0.1', port), Handler).serve_forever()
