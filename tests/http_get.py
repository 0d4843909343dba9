#!/usr/bin/env python3
"""A plain HTTP request for the tests (standard library, no redirects).

    http_get.py [-X METHOD] [-H 'Name: value']... URL BODY_FILE HEADERS_FILE

Prints the status code; writes the body and the response headers (one
"Name: value" per line) to the files. Exit 0 whatever the status; 3 when
the server cannot be reached within 10 s.
"""
import http.client
import sys
import urllib.parse


def main():
    args = sys.argv[1:]
    method, headers = "GET", {}
    while args and args[0] in ("-X", "-H"):
        if args[0] == "-X":
            method = args[1]
        else:
            name, value = args[1].split(":", 1)
            headers[name.strip()] = value.strip()
        args = args[2:]
    url, body_file, headers_file = args
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    path = u.path + ("?" + u.query if u.query else "")
    try:
        conn.request(method, path, body=b"x" if method in ("POST", "PUT") else None,
                     headers=headers)
        r = conn.getresponse()
        body = r.read()
    except OSError as e:
        print(f"http_get.py: {url}: {e}", file=sys.stderr)
        return 3
    with open(body_file, "wb") as f:
        f.write(body)
    with open(headers_file, "w") as f:
        for k, v in r.getheaders():
            f.write(f"{k}: {v}\n")
    print(r.status)
    return 0


sys.exit(main())
