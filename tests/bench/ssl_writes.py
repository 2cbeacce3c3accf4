"""Times SSL_write calls (Python's ssl module: OpenSSL's SSL_write_ex) of one size.

Each write carries one whole HTTP/1.1 request, so egress parses and decides every one.
Prints one JSON line: per-write nanoseconds (median, p99, mean) over `count` writes.
"""
import json
import socket
import ssl
import sys
import time

host, port, ca, size, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
context = ssl.create_default_context(cafile=ca)
sock = context.wrap_socket(socket.create_connection((host, port)), server_hostname="localhost")
head = b"POST /v1/bench HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % size
request = head + b"x" * size
for _ in range(min(100, count)):  # warm-up: libraries attached, caches hot
    sock.sendall(request)
times = []
for _ in range(count):
    start = time.perf_counter_ns()
    sock.sendall(request)
    times.append(time.perf_counter_ns() - start)
sock.close()
times.sort()
print(json.dumps({
    "median_ns": times[len(times) // 2],
    "p99_ns": times[(len(times) - 1) * 99 // 100],
    "mean_ns": sum(times) // len(times),
    "count": count,
}))
