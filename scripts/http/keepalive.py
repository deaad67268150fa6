#!/usr/bin/python3
"""Time of keep-alive requests to a running collector: N requests of PATH on one connection, and the median and
largest time of one. A server that writes the head and the body separately makes every request after the first wait
for the client's delayed acknowledgement (about 40 ms on Linux) because of Nagle's algorithm.

usage: keepalive.py [--http 127.0.0.1:9750] [--path /healthz] [--requests 200]
"""
import argparse
import http.client
import statistics
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http", default="127.0.0.1:9750")
    parser.add_argument("--path", default="/healthz")
    parser.add_argument("--requests", type=int, default=200)
    arguments = parser.parse_args()
    host, port = arguments.http.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    times = []
    for _ in range(arguments.requests):
        started = time.perf_counter()
        connection.request("GET", arguments.path)
        response = connection.getresponse()
        response.read()
        times.append((time.perf_counter() - started) * 1000)
    connection.close()
    later = times[1:]
    print(f"{arguments.requests} keep-alive requests of {arguments.path}: median {statistics.median(later):.2f} ms, "
          f"largest {max(later):.2f} ms (after the first), total {sum(times):.0f} ms")


if __name__ == "__main__":
    main()
