#!/usr/bin/env python3
"""redis_cost.py -- what each Redis write of the fanout's hot path costs
redis-server in CPU, in isolation (issue 20, docs/design.md "Decisions for
issue 20 (redis CPU)").

Starts a redis-server of its own on a free loopback port (no persistence),
sends N copies of each command shape the fanout sends per task (the keys
and values of a `true` task, a fresh task id each time), and reads the
server's utime + stime from /proc before and after: CPU, not wall time, so
a shared machine blurs it less. BATCH commands go per write: BATCH=1 is a
round trip per command (what the agent's result script pays), a larger
BATCH prices the command itself (the coordinator's pipeline).

The agent's result script is read from agent/agent_result.c, so the row
`result script` is the text the build runs; the keys come from
common/sw_keys.c through `swarm_selftest key` of the build in SWARM_BUILD
(default: build/ beside this directory). Usage:

    N=20000 BATCH=50 ROUNDS=3 bench/redis_cost.py [ROW ...]

Prints one line per row and round: µs of redis-server CPU per call. /proc
counts in ticks of 10 ms: N=20000 resolves 0.5 µs.
"""
import hashlib
import os
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def resp(*args):
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


def store_lua():
    """The result script's text, as agent_result.c spells it."""
    src = open(os.path.join(HERE, '..', 'agent', 'agent_result.c')).read()
    m = re.search(r'static const char s_store_lua\[\] =\n(.*?);\n', src, re.S)
    body = m.group(1).replace('S_XSTR(AGENT_LIVE_MAXLEN)', '"2048"')
    return ''.join(eval(x) for x in re.findall(r'"(?:[^"\\]|\\.)*"', body))


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self):
        port = free_port()
        self.proc = subprocess.Popen(['redis-server', '--port', str(port), '--bind', '127.0.0.1',
                                      '--save', '', '--appendonly', 'no'],
                                     stdout=subprocess.DEVNULL)
        for _ in range(100):
            try:
                self.sock = socket.create_connection(('127.0.0.1', port))
                break
            except OSError:
                time.sleep(0.05)
        self.buf = b''

    def cpu_ticks(self):
        f = open('/proc/%d/stat' % self.proc.pid).read().rsplit(')', 1)[1].split()
        return int(f[11]) + int(f[12])

    def _one(self, i):
        """End offset of the reply at i in self.buf, None when incomplete."""
        j = self.buf.find(b'\r\n', i)
        if j < 0:
            return None
        t, v = self.buf[i:i + 1], self.buf[i + 1:j]
        if t in (b'+', b'-', b':'):
            if t == b'-':
                raise SystemExit('redis: ' + v.decode())
            return j + 2
        if t == b'$':
            n = int(v)
            end = j + 2 + (n + 2 if n >= 0 else 0)
            return end if end <= len(self.buf) else None
        p = j + 2
        for _ in range(max(int(v), 0)):
            p = self._one(p)
            if p is None:
                return None
        return p

    def replies(self, n):
        got, i = 0, 0
        while got < n:
            e = self._one(i) if i < len(self.buf) else None
            if e is None:
                self.buf = self.buf[i:]
                i = 0
                self.buf += self.sock.recv(1 << 20)
                continue
            i, got = e, got + 1
        self.buf = self.buf[i:]

    def send(self, data, nreplies):
        self.sock.sendall(data)
        self.replies(nreplies)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


NOW = '1764556000003'
RESULT = (b'{"id":"t%06d","job":"j","type":"cmd","runner":"exec","status":"succeeded",'
          b'"exit_code":0,"signal":null,"attempt":1,"agent":"a","host":"vm",'
          b'"started_at":"2026-12-01T03:23:35.578Z","duration_ms":3,"output_truncated":false,'
          b'"stderr_tail":"","error":null,"output":""}')
SPEC = (b'{"id":"t%06d","job":"j","type":"cmd","runner":"exec","timeout_s":300,'
        b'"idle_timeout_s":0,"max_attempts":3,"ns":"results","argv":["true"],"after":[],'
        b'"labels":{},"env":{}}')


def tid(i):
    return 't%06d' % i


ID = 'XIDX'         # stands for the task id in the key templates (no escaping)


def key(*parts):
    """A key from common/sw_keys.c (swarm_selftest key ...): never spelt here."""
    build = os.environ.get('SWARM_BUILD', os.path.join(HERE, '..', 'build'))
    return subprocess.check_output([os.path.join(build, 'tests', 'swarm_selftest'), 'key']
                                   + list(parts), text=True).strip()


K = {}


def keys():
    K.update(task=key('task', 'j', ID), entry=key('mem', 'results', 'result-' + ID),
             log=key('log', 'j', ID, '1'), events=key('events', 'j'), tasks=key('tasks', 'j'),
             index=key('index', 'results'), namespaces=key('namespaces'))


def task(i):
    return K['task'].replace(ID, tid(i))


def entry(i):
    return K['entry'].replace(ID, tid(i))


def log(i):
    return K['log'].replace(ID, tid(i))


def state(i, status, attempt, start, fin, code):
    return resp('HSET', task(i), 'status', status, 'attempt', attempt, 'agent', 'a', 'host', 'vm',
                'started', start, 'finished', fin, 'exit_code', code, 'reason', '', 'cancel', '',
                'throttled', '0')


def submitted(i):
    return resp('HSET', task(i), 'spec', SPEC % i, 'type', 'cmd', 'runner', 'exec', 'submitted',
                NOW, 'status', 'queued', 'attempt', '0', 'agent', '', 'host', '', 'started', '0',
                'finished', '0', 'exit_code', '-1', 'reason', '', 'cancel', '', 'throttled', '0')


def event(i, e, extra=()):
    return resp('XADD', K['events'], 'MAXLEN', '~', '100000', '*', 't', NOW, 'e', e,
                'task', tid(i), 'attempt', '1', 'agent', 'a', *extra)


def script_call(sha):
    def call(i):
        return resp('EVALSHA', sha, 5, task(i), entry(i), K['index'], K['namespaces'],
                    log(i), '1', NOW, 'result-' + tid(i), 'results', 'j\n%s\n1' % tid(i), '604800',
                    NOW, 'succeeded', '0', '', RESULT % i)
    return call


def rows():
    keys()
    lua = store_lua()
    sha = hashlib.sha1(lua.encode()).hexdigest()
    end = ('t', NOW, 's', 'end', 'n', '0', 'status', 'succeeded', 'code', '0', 'd', '')
    # name: (setup per i or None, the call per i, replies per call, load first)
    return {
        'ping': (None, lambda i: resp('PING'), 1, None),
        'result script': (lambda i: state(i, 'running', '1', NOW, '0', '-1'), script_call(sha), 1,
                          resp('SCRIPT', 'LOAD', lua)),
        'script, no end entry': (lambda i: state(i, 'running', '1', NOW, '0', '-1'),
                                 script_call(hashlib.sha1(lua.replace(
                                     "if ARGV[6] ~= '' then", "if false then").encode())
                                     .hexdigest()), 1,
                                 resp('SCRIPT', 'LOAD', lua.replace(
                                     "if ARGV[6] ~= '' then", "if false then"))),
        "script's 8 commands, no Lua": (
            lambda i: state(i, 'running', '1', NOW, '0', '-1'),
            lambda i: b''.join([
                resp('HMGET', task(i), 'attempt', 'result'),
                resp('XADD', log(i), 'MAXLEN', '~', '2048', '*', *end),
                resp('EXPIRE', log(i), '604800'),
                resp('HSET', task(i), 'result', RESULT % i, 'attempt', '1'),
                resp('HMGET', entry(i), 'writer', 'created', 'run'),
                resp('HSET', entry(i), 'value', RESULT % i, 'updated', NOW, 'tags', 'result',
                     'created', NOW),
                resp('ZADD', K['index'], NOW, 'result-' + tid(i)),
                resp('SADD', K['namespaces'], 'results')]), 8, None),
        'end entry: XADD new stream': (None, lambda i: resp('XADD', log(i), 'MAXLEN', '~', '2048',
                                                            '*', *end), 1, None),
        'end entry: EXPIRE': (lambda i: resp('XADD', log(i), '*', *end),
                              lambda i: resp('EXPIRE', log(i), '604800'), 1, None),
        'memory entry HSET': (None, lambda i: resp('HSET', entry(i), 'value', RESULT % i, 'updated',
                                                   NOW, 'tags', 'result', 'created', NOW), 1, None),
        'namespace ZADD': (None, lambda i: resp('ZADD', K['index'], NOW,
                                                'result-' + tid(i)), 1, None),
        'coord: submit HSET + RPUSH': (None, lambda i: submitted(i) + resp(
            'RPUSH', K['tasks'], tid(i)), 2, None),
        'coord: dispatch HSET': (submitted, lambda i: state(i, 'running', '1', NOW, '0', '-1'), 1,
                                 None),
        'coord: finish HSET': (submitted, lambda i: state(i, 'succeeded', '1', NOW, NOW, '0'), 1,
                               None),
        'coord: event XADD': (None, lambda i: event(i, 'finished', ('status', 'succeeded', 'code',
                                                                     '0')), 1, None),
    }


def main():
    n = int(os.environ.get('N', '20000'))
    batch = int(os.environ.get('BATCH', '50'))
    rounds = int(os.environ.get('ROUNDS', '2'))
    table = rows()
    names = sys.argv[1:] or list(table)
    for name in names:
        if name not in table:
            raise SystemExit('unknown row %r; rows: %s' % (name, ', '.join(table)))
    srv = Server()
    try:
        for _ in range(rounds):
            for name in names:
                setup, call, per, load = table[name]
                srv.send(resp('FLUSHALL'), 1)
                if load:
                    srv.send(load, 1)
                if setup:
                    for i in range(0, n, 1000):
                        srv.send(b''.join(setup(k) for k in range(i, min(i + 1000, n))),
                                 min(1000, n - i))
                c0 = srv.cpu_ticks()
                for i in range(0, n, batch):
                    k = min(batch, n - i)
                    srv.send(b''.join(call(j) for j in range(i, i + k)), k * per)
                c1 = srv.cpu_ticks()
                print('%-30s %6.1f us per call (batch %d)' % (name, (c1 - c0) * 10000.0 / n, batch),
                      flush=True)
    finally:
        srv.stop()


if __name__ == '__main__':
    main()
