"""A webhook receiver for benchmarks: answers every POST with 204 after --delay seconds."""
import argparse
import http.server
import time


class Slow(http.server.BaseHTTPRequestHandler):
    delay = 2.0

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        time.sleep(self.delay)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=2.0)
    args = parser.parse_args()
    Slow.delay = args.delay
    http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Slow).serve_forever()
