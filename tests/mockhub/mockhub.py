#!/usr/bin/env python3
"""A small stand-in for the Hugging Face Hub, for the download tests. Loopback only.

Serves model folders as Hub repos the way the Hub does:
  GET  /api/models/<repo>/revision/<rev>     {"id", "sha", "siblings": [{"rfilename"}]}
  HEAD/GET /<repo>/resolve/<rev>/<file>      X-Repo-Commit, ETag (git blob sha1); LFS files
                                              answer 302 to the "CDN" server with X-Linked-Etag
                                              (their sha256) and X-Linked-Size
  GET  /blobs/<sha256>   (on the CDN port)   the LFS bytes, with Range support

Faults (--fault KIND:GLOB[:COUNT[:ARG]], COUNT requests, -1 = always; GLOB is matched against the
file name, or "api" for the listing):
  503      answer 503
  drop     send the headers and half the body, then close the connection
  badsha   serve the body with one byte changed
  slow     send the headers, then stall ARG seconds before the body
  truncate announce the full length but send 10 bytes less, then close

--port-file gets "MAIN_PORT CDN_PORT" once both listen; --log gets one JSON line per request.
"""
import argparse
import fnmatch
import hashlib
import http.server
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

LFS_SUFFIXES = (".safetensors", ".bin", ".model", ".h5", ".msgpack", ".onnx", ".ot")


class Repo:
    def __init__(self, repo_id, folder, revisions):
        self.id = repo_id
        self.files = {}
        for root, _, names in os.walk(folder):
            for name in sorted(names):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, folder).replace(os.sep, "/")
                with open(path, "rb") as f:
                    data = f.read()
                lfs = rel.endswith(LFS_SUFFIXES)
                if lfs:
                    etag = hashlib.sha256(data).hexdigest()
                else:
                    etag = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
                self.files[rel] = {"data": data, "lfs": lfs, "etag": etag}
        h = hashlib.sha1()
        for rel in sorted(self.files):
            h.update(rel.encode() + b"\0" + self.files[rel]["etag"].encode())
        self.commit = h.hexdigest()
        self.revisions = {"main", self.commit, *revisions}


class Fault:
    def __init__(self, spec):
        parts = spec.split(":")
        self.kind, self.glob = parts[0], parts[1]
        self.count = int(parts[2]) if len(parts) > 2 else -1
        self.arg = float(parts[3]) if len(parts) > 3 else 0.0

    def take(self, name, lock):
        with lock:
            if self.count == 0 or not fnmatch.fnmatchcase(name, self.glob):
                return False
            if self.count > 0:
                self.count -= 1
            return True


class State:
    def __init__(self, args):
        self.repos = {}
        for spec in args.repo:
            repo_id, folder = spec.split("=", 1)
            self.repos[repo_id] = Repo(repo_id, folder, args.revision)
        self.faults = [Fault(s) for s in args.fault]
        self.lock = threading.Lock()
        self.log_path = args.log
        self.token = args.require_token
        self.cdn_port = 0
        self.blobs = {}
        for repo in self.repos.values():
            for rel, f in repo.files.items():
                if f["lfs"]:
                    self.blobs[f["etag"]] = (rel, f["data"])

    def fault(self, name):
        for f in self.faults:
            if f.take(name, self.lock):
                return f
        return None

    def log(self, entry):
        if not self.log_path:
            return
        with self.lock, open(self.log_path, "a") as out:
            out.write(json.dumps(entry) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "mockhub/1"
    role = "main"

    def log_message(self, *args):
        pass

    @property
    def state(self):
        return self.server.state

    def record(self, status):
        self.state.log({"server": self.role, "method": self.command, "path": self.path, "status": status,
                        "auth": self.headers.get("Authorization"), "range": self.headers.get("Range")})

    def reply(self, status, body=b"", headers=None, head=False):
        self.record(status)
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def error(self, status, code, message, head=False):
        body = json.dumps({"error": message}).encode()
        self.reply(status, body, {"X-Error-Code": code, "Content-Type": "application/json"}, head)

    def do_HEAD(self):
        self.route(head=True)

    def do_GET(self):
        self.route(head=False)

    def route(self, head):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if self.role == "cdn":
            return self.cdn(path, head)
        if self.state.token and self.headers.get("Authorization") != "Bearer " + self.state.token:
            return self.error(401, "RepoNotFound", "Invalid credentials", head)
        if path.startswith("/api/models/"):
            return self.api(path[len("/api/models/"):], head)
        if "/resolve/" in path:
            return self.resolve(path, head)
        self.error(404, "EntryNotFound", "no such route", head)

    def find_repo(self, rest):
        for repo_id, repo in self.state.repos.items():
            if rest.startswith(repo_id + "/"):
                return repo, rest[len(repo_id) + 1:]
        return None, rest

    def api(self, rest, head):
        repo, tail = self.find_repo(rest)
        if repo is None:
            return self.error(404, "RepoNotFound", "Repository not found", head)
        if not tail.startswith("revision/"):
            return self.error(404, "EntryNotFound", "no such route", head)
        rev = tail[len("revision/"):]
        if self.state.fault("api"):
            return self.error(503, "ServiceUnavailable", "try again", head)
        if rev not in repo.revisions:
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev, head)
        body = json.dumps({"id": repo.id, "modelId": repo.id, "sha": repo.commit,
                           "siblings": [{"rfilename": n} for n in sorted(repo.files)]}).encode()
        self.reply(200, body, {"Content-Type": "application/json"}, head)

    def resolve(self, path, head):
        repo, tail = self.find_repo(path[1:])
        if repo is None or not tail.startswith("resolve/"):
            return self.error(404, "RepoNotFound", "Repository not found", head)
        rev, _, name = tail[len("resolve/"):].partition("/")
        if rev not in repo.revisions:
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev, head)
        f = repo.files.get(name)
        if f is None:
            return self.error(404, "EntryNotFound", "Entry not found", head)
        headers = {"X-Repo-Commit": repo.commit, "ETag": '"%s"' % f["etag"]}
        if f["lfs"]:
            headers.update({"X-Linked-Etag": '"%s"' % f["etag"], "X-Linked-Size": str(len(f["data"])),
                            "Location": "http://127.0.0.1:%d/blobs/%s" % (self.state.cdn_port, f["etag"])})
            return self.reply(302, b"", headers, head)
        if head:
            self.record(200)
            self.send_response(200)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(f["data"])))
            self.end_headers()
            return
        self.send_body(name, f["data"], headers)

    def cdn(self, path, head):
        sha = path.rsplit("/", 1)[-1]
        if sha not in self.state.blobs:
            return self.error(404, "EntryNotFound", "no such blob", head)
        name, data = self.state.blobs[sha]
        if head:
            return self.reply(200, b"", {"ETag": '"%s"' % sha}, head=True)
        self.send_body(name, data, {"ETag": '"%s"' % sha})

    def send_body(self, name, data, headers):
        fault = self.state.fault(name)
        if fault and fault.kind == "503":
            return self.error(503, "ServiceUnavailable", "overloaded")
        if fault and fault.kind == "badsha":
            data = bytes([data[0] ^ 0xFF]) + data[1:] if data else data
        status, start = 200, 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[len("bytes="):-1])
            if start >= len(data):
                return self.reply(416, b"", {"Content-Range": "bytes */%d" % len(data)})
            status = 206
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(data) - 1, len(data))
        body = data[start:]
        self.record(status)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault and fault.kind == "drop":
            self.wfile.write(body[: len(body) // 2])
            return self.hang_up()
        if fault and fault.kind == "truncate":
            self.wfile.write(body[: max(0, len(body) - 10)])
            return self.hang_up()
        if fault and fault.kind == "slow":
            self.wfile.flush()
            time.sleep(fault.arg)
        self.wfile.write(body)

    def hang_up(self):
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state, role):
        handler = type("Handler_" + role, (Handler,), {"role": role})
        super().__init__(("127.0.0.1", 0), handler)
        self.state = state


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", action="append", default=[], help="ORG/NAME=FOLDER")
    ap.add_argument("--revision", action="append", default=[], help="extra revision names that resolve")
    ap.add_argument("--fault", action="append", default=[], help="KIND:GLOB[:COUNT[:ARG]]")
    ap.add_argument("--require-token", help="answer 401 unless 'Authorization: Bearer TOKEN'")
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    args = ap.parse_args()
    state = State(args)
    main_server, cdn_server = Server(state, "main"), Server(state, "cdn")
    state.cdn_port = cdn_server.server_address[1]
    threading.Thread(target=cdn_server.serve_forever, daemon=True).start()
    ports = "%d %d\n" % (main_server.server_address[1], state.cdn_port)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(ports)
        os.rename(tmp, args.port_file)
    else:
        sys.stdout.write(ports)
        sys.stdout.flush()
    try:
        main_server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
