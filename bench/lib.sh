# Shared by the bench scripts (source it): a throwaway CA and a loopback HTTPS server
# for test files, so the server fetches them through its real SSRF-guarded client.
# Needs openssl and python3. Callers own $WORK (a temp dir) and its cleanup trap.

# bench_https_server DIR: serve DIR over HTTPS on 127.0.0.1 (a free port), with a new CA
# at $WORK/ca.pem (pass it to the server as SSL_CERT_FILE). Sets IMG to the base URL.
bench_https_server() {
  local dir=$1
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bench-ca \
    -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$WORK/srv.key" -out "$WORK/srv.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' > "$WORK/ext"
  openssl x509 -req -in "$WORK/srv.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
    -days 1 -extfile "$WORK/ext" -out "$WORK/srv.pem" 2>/dev/null
  rm -f "$WORK/img.port"
  python3 - "$dir" "$WORK" <<'PY' &
import http.server, ssl, sys, functools
root, work = sys.argv[1], sys.argv[2]
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer.request_queue_size = 256
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=root))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(f"{work}/srv.pem", f"{work}/srv.key")
# The handshake in the handler thread, not in accept(): many clients at once must not
# queue behind one another's handshake.
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
open(f"{work}/img.port", "w").write(str(httpd.server_address[1]))
httpd.serve_forever()
PY
  for _ in $(seq 50); do [ -s "$WORK/img.port" ] && break; sleep 0.1; done
  [ -s "$WORK/img.port" ] || { echo "the HTTPS file server did not start" >&2; return 1; }
  IMG="https://127.0.0.1:$(cat "$WORK/img.port")"
}

# bench_postgres: a throwaway PostgreSQL server with its default settings, started like
# the tests' (crates/testkit/examples/pg_server.rs, built in the debug target dir) and
# kept until the calling script exits (its stdin is fd 7 of the script). Needs Debian's
# postgresql package. Sets DATABASE_URL to a fresh database.
bench_postgres() {
  rm -f "$WORK/pg.in" "$WORK/pg.url"
  mkfifo "$WORK/pg.in"
  CARGO_TARGET_DIR=$PWD/target cargo run -q -j2 -p peakreel-testkit --example pg_server \
    < "$WORK/pg.in" > "$WORK/pg.url" 2> "$WORK/pg.err" &
  exec 7> "$WORK/pg.in"
  for _ in $(seq 3000); do [ -s "$WORK/pg.url" ] && break; sleep 0.2; done
  [ -s "$WORK/pg.url" ] || { echo "PostgreSQL did not start:" >&2; cat "$WORK/pg.err" >&2; return 1; }
  DATABASE_URL=$(head -1 "$WORK/pg.url")
}
