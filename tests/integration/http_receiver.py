#!/usr/bin/env python3
"""http_receiver.py -- the HTTP receiver that edgewatch-notify's integration
tests deliver to (tests/integration/test_notify.sh).

    http_receiver.py --log FILE [--port N]   serve on 127.0.0.1:N (0: a free
                                             port); prints the port, one line
    http_receiver.py --selftest              exercises every mode, exits 0/1

Every POST (other than /_control) is answered according to the mode of the
longest configured path prefix that matches its path ("ok" when none does)
and recorded as one JSON line in FILE, written and flushed when the request
ends:

    {"path", "headers" (dict, incl. Idempotency-Key), "body" (parsed JSON, or
     null with "body_raw" and "body_error" when it is not JSON), "status"
     (the answer, null when none was sent), "outcome", "t" (epoch seconds,
     when the request ended), "t_start" (when it arrived)}

outcome is "delivered" (a 2xx answer), "rejected" (any other answer) or
"abandoned" (the client went away before the answer: it never completed
from HTTP's point of view, e.g. the notifier was killed while waiting).

Modes, set at runtime with POST /_control {"path": "/slack", "mode": M}:

    ok                 200
    status:NNN         NNN for every request
    fail_first:N[:C]   C (default 500) for the next N requests, then 200
    hang:S             sleep S seconds, then 200 if the client is still there
    hang_first:N:S     the next N requests hang S seconds, later ones get 200

A hung request checks after its sleep whether the client is still connected
(select + recv(MSG_PEEK) returning b"" means it closed); if not, it is logged
as "abandoned" and gets no answer.

GET /_log returns the records so far as a JSON array, GET /_inflight the
requests being answered right now ({"count": N, "paths": [...]}), and
POST /_control {"reset": true} clears every mode.
"""
import argparse
import http.client
import json
import os
import select
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.modes = {}       # path prefix -> [mode name, args...] (mutable counters)
        self.records = []
        self.inflight = {}    # id -> path
        self.log = open(log_path, "a", encoding="utf-8")

    def set_mode(self, prefix, mode):
        parsed = parse_mode(mode)
        with self.lock:
            self.modes[prefix] = parsed

    def decide(self, path):
        """The answer plan for one request: ("status", code) or ("hang", secs)."""
        with self.lock:
            best = None
            for prefix in self.modes:
                if path.startswith(prefix) and (best is None or len(prefix) > len(best)):
                    best = prefix
            if best is None:
                return ("status", 200)
            m = self.modes[best]
            kind = m[0]
            if kind == "ok":
                return ("status", 200)
            if kind == "status":
                return ("status", m[1])
            if kind == "fail_first":
                if m[1] > 0:
                    m[1] -= 1
                    return ("status", m[2])
                return ("status", 200)
            if kind == "hang":
                return ("hang", m[1])
            if kind == "hang_first":
                if m[1] > 0:
                    m[1] -= 1
                    return ("hang", m[2])
                return ("status", 200)
            return ("status", 200)

    def record(self, rec):
        line = json.dumps(rec, sort_keys=True)
        with self.lock:
            self.records.append(rec)
            self.log.write(line + "\n")
            self.log.flush()


def parse_mode(mode):
    if not isinstance(mode, str):
        raise ValueError("mode must be a string")
    if mode == "ok":
        return ["ok"]
    kind, _, arg = mode.partition(":")
    if kind == "status":
        code = int(arg)
        if not 100 <= code <= 599:
            raise ValueError("status out of range")
        return ["status", code]
    if kind == "fail_first":
        n, _, code = arg.partition(":")
        return ["fail_first", int(n), int(code or 500)]
    if kind == "hang":
        return ["hang", float(arg)]
    if kind == "hang_first":
        n, _, secs = arg.partition(":")
        return ["hang_first", int(n), float(secs)]
    raise ValueError(f"unknown mode {mode!r}")


def client_gone(sock):
    """True when the peer has closed the connection (or reset it)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (ConnectionError, OSError):
        return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "edgewatch-test-receiver/1"

    def log_message(self, fmt, *args):  # keep stderr quiet
        pass

    @property
    def state(self):
        return self.server.state

    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def read_body(self):
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = 0
        if n <= 0 and "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        try:
            if self.path == "/_log":
                with self.state.lock:
                    records = list(self.state.records)
                self.reply(200, records)
            elif self.path == "/_inflight":
                with self.state.lock:
                    paths = list(self.state.inflight.values())
                self.reply(200, {"count": len(paths), "paths": paths})
            elif self.path == "/_control":
                with self.state.lock:
                    modes = {k: v[:] for k, v in self.state.modes.items()}
                self.reply(200, modes)
            else:
                self.reply(404, {"error": "not found"})
        except (ConnectionError, OSError):
            pass

    def do_POST(self):
        t_start = time.time()
        try:
            raw = self.read_body()
        except (ConnectionError, OSError, ValueError):
            return
        if self.path == "/_control":
            self.control(raw)
            return
        rec = {"path": self.path, "headers": dict(self.headers.items()), "t_start": t_start}
        try:
            rec["body"] = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            rec["body"] = None
            rec["body_raw"] = raw.decode("utf-8", "replace")
            rec["body_error"] = str(e)
        key = object()
        with self.state.lock:
            self.state.inflight[key] = self.path
        try:
            plan = self.state.decide(self.path)
            status = 200
            if plan[0] == "hang":
                time.sleep(plan[1])
                if client_gone(self.connection):
                    rec.update(status=None, outcome="abandoned", t=time.time())
                    self.state.record(rec)
                    self.close_connection = True
                    return
            else:
                status = plan[1]
            outcome = "delivered" if 200 <= status < 300 else "rejected"
            try:
                self.reply(status, {"ok": outcome == "delivered"})
            except (ConnectionError, OSError):
                outcome = "abandoned"
                status = None
                self.close_connection = True
            rec.update(status=status, outcome=outcome, t=time.time())
            self.state.record(rec)
        finally:
            with self.state.lock:
                self.state.inflight.pop(key, None)

    def control(self, raw):
        try:
            req = json.loads(raw.decode("utf-8"))
            if req.get("reset"):
                with self.state.lock:
                    self.state.modes.clear()
            else:
                self.state.set_mode(req["path"], req["mode"])
            self.reply(200, {"ok": True})
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
            try:
                self.reply(400, {"error": str(e)})
            except (ConnectionError, OSError):
                pass
        except (ConnectionError, OSError):
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # never die, never spam
        pass


def make_server(port, log_path):
    srv = Server(("127.0.0.1", port), Handler)
    srv.state = State(log_path)
    return srv


# ---- self-test ---------------------------------------------------------------

def selftest():
    failures = []

    def check(name, cond):
        print(("ok   " if cond else "FAIL ") + name)
        if not cond:
            failures.append(name)

    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "log.jsonl")
        srv = make_server(0, log)
        port = srv.server_address[1]
        threading.Thread(target=srv.serve_forever, daemon=True).start()

        def post(path, body, headers=None, timeout=10):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h = {"Content-Type": "application/json"}
            h.update(headers or {})
            c.request("POST", path, body=data, headers=h)
            r = c.getresponse()
            r.read()
            c.close()
            return r.status

        def get(path):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", path)
            r = c.getresponse()
            data = json.loads(r.read())
            c.close()
            return data

        def control(path, mode):
            return post("/_control", {"path": path, "mode": mode})

        def records(at_least=0):
            # the record is written just after the answer: wait for it
            deadline = time.time() + 5
            while True:
                rs = [json.loads(l) for l in open(log)]
                if len(rs) >= at_least or time.time() > deadline:
                    return rs
                time.sleep(0.02)

        n_posts = [0]
        real_post = post

        def post(path, body, headers=None, timeout=10):
            status = real_post(path, body, headers, timeout)
            if path != "/_control":
                n_posts[0] += 1
                records(n_posts[0])
            return status

        check("default mode answers 200", post("/a", {"x": 1}, {"Idempotency-Key": "k1"}) == 200)
        r = records()[-1]
        check("a record has path, headers, body, status, outcome, t",
              r["path"] == "/a" and r["body"] == {"x": 1} and r["status"] == 200
              and r["outcome"] == "delivered" and isinstance(r["t"], float))
        check("the Idempotency-Key header is recorded", r["headers"].get("Idempotency-Key") == "k1")

        check("control accepts status:500", control("/s", "status:500") == 200)
        check("status:500 answers 500", post("/s/x", {}) == 500 and post("/s/y", {}) == 500)
        check("a 5xx is recorded as rejected", records()[-1]["outcome"] == "rejected")
        check("the longest prefix wins", control("/s/ok", "ok") == 200 and post("/s/ok/1", {}) == 200)
        check("other paths stay ok", post("/other", {}) == 200)

        control("/f", "fail_first:2")
        got = [post("/f", {"n": i}) for i in range(4)]
        check(f"fail_first:2 answers 500, 500, 200, 200 ({got})", got == [500, 500, 200, 200])
        control("/f429", "fail_first:1:429")
        got = [post("/f429", {}) for i in range(2)]
        check(f"fail_first:1:429 answers 429, 200 ({got})", got == [429, 200])

        control("/nf", "status:404")
        check("status:404 answers 404", post("/nf", {}) == 404)
        check("a 404 is recorded as rejected", records()[-1]["status"] == 404 and records()[-1]["outcome"] == "rejected")

        check("a bad body is answered", post("/a", b"not json{") == 200)
        r = records()[-1]
        check("a bad body is recorded raw", r["body"] is None and r["body_raw"] == "not json{" and "body_error" in r)

        check("a bad control request is refused, not fatal", post("/_control", b"{]") == 400)
        check("an unknown mode is refused", control("/x", "frobnicate") == 400)

        control("/h", "hang:0.5")
        t0 = time.time()
        check("hang:0.5 answers 200 to a patient client", post("/h", {}) == 200 and time.time() - t0 >= 0.5)
        check("... recorded as delivered", records()[-1]["outcome"] == "delivered")

        control("/h", "hang:0.8")
        s = socket.create_connection(("127.0.0.1", port))
        body = b"{}"
        s.sendall(b"POST /h/gone HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 2\r\n\r\n" + body)
        time.sleep(0.3)
        check("an in-flight request is listed by /_inflight", get("/_inflight")["count"] == 1)
        s.close()
        deadline = time.time() + 5
        while time.time() < deadline and not any(x["path"] == "/h/gone" for x in records()):
            time.sleep(0.1)
        gone = [x for x in records() if x["path"] == "/h/gone"]
        check("a client that closed during the hang is recorded as abandoned",
              len(gone) == 1 and gone[0]["outcome"] == "abandoned" and gone[0]["status"] is None)

        control("/hf", "hang_first:1:0.3")
        t0 = time.time()
        first = post("/hf", {})
        t1 = time.time()
        second = post("/hf", {})
        t2 = time.time()
        check("hang_first:1 hangs the first request only", first == 200 and second == 200
              and t1 - t0 >= 0.3 and t2 - t1 < 0.3)

        # keep-alive: two requests on one connection, and Expect: 100-continue
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("POST", "/ka", body=b'{"a":1}', headers={"Content-Type": "application/json"})
        r1 = c.getresponse().read()
        c.request("POST", "/ka", body=b'{"a":2}', headers={"Content-Type": "application/json"})
        r2 = c.getresponse()
        r2.read()
        c.close()
        check("keep-alive connections work", r2.status == 200 and r1)
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(5)
        big = json.dumps({"pad": "x" * 3000}).encode()
        s.sendall(b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                  b"Content-Length: " + str(len(big)).encode() + b"\r\n\r\n")
        cont = s.recv(100)
        s.sendall(big)
        resp = b""
        while b"\r\n\r\n" not in resp:
            resp += s.recv(1000)
        s.close()
        check("Expect: 100-continue is honoured", cont.startswith(b"HTTP/1.1 100") and b" 200 " in resp)

        log_via_http = get("/_log")
        check("GET /_log returns every record", len(log_via_http) == len(records()))
        post("/_control", {"reset": True})
        check("reset clears the modes", post("/s/x", {}) == 200)
        srv.shutdown()
    print("selftest:", "FAILED " + ", ".join(failures) if failures else "all passed")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log")
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args()
    if args.selftest:
        return selftest()
    if not args.log:
        ap.error("--log is required")
    srv = make_server(args.port, args.log)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
