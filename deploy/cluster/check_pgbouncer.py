#!/usr/bin/env python3
"""Checks that a PgBouncer in transaction pooling keeps protocol-level named
prepared statements (what sqlx does on every query) across transactions and
server connections.

Two clients connect through the bouncer with psycopg's prepare_threshold=0
(every statement is Parsed once under a name, then only Bound and Executed by
that name, as sqlx does). Over several rounds their transactions overlap in a
shuffled order, with a third plain client sometimes holding a server
connection too, so that each client lands on more than one server connection.
Every execution of a named statement on a server connection where the client
never prepared it works only if the bouncer prepares it there (PgBouncer >=
1.21 with max_prepared_statements > 0); PgBouncer 1.18 answers `prepared
statement "_pg3_0" does not exist`.

With --search-path SCHEMA it also checks that every server connection a
client lands on has SCHEMA as its search_path (see connect_query in
pgbouncer.ini.template).

    python -m venv venv && venv/bin/pip install 'psycopg[binary]==3.3.9'
    venv/bin/python check_pgbouncer.py --port 6432 --dbname tikethet

Exit status 0 and one line "ok: ..." on success; 1 and the reason otherwise.
"""

import argparse
import random
import subprocess
import sys

import psycopg

QUERIES = [
    ("SELECT pg_backend_pid()", ()),
    ("SELECT %s::int + 1", (41,)),
    ("SELECT count(*) FROM pg_catalog.pg_class WHERE relkind = %s", ("r",)),
    ("SELECT current_setting('search_path')", ()),
]


def admin(args, command):
    """Runs a command on the bouncer's admin console (simple protocol) with psql;
    returns its rows as dicts."""
    out = subprocess.run(
        ["psql", "-X", "-q", "-A", "-F", "\t", "-P", "footer=off", "-h", args.host, "-p", str(args.port),
         "-U", args.user, "pgbouncer", "-c", command],
        check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    header = out[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in out[1:]]


def bouncer_stats(args):
    """This database's counters from SHOW STATS (None when unavailable)."""
    try:
        for row in admin(args, "SHOW STATS"):
            if row.get("database") == args.dbname:
                return row
    except (subprocess.CalledProcessError, OSError, IndexError):
        pass
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=6432)
    p.add_argument("--user", default="postgres")
    p.add_argument("--dbname", default="tikethet")
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--search-path", help="expect this schema as every server connection's search_path")
    args = p.parse_args()

    def connect(prepare_threshold):
        conn = psycopg.connect(host=args.host, port=args.port, user=args.user, dbname=args.dbname,
                               application_name="check_pgbouncer", connect_timeout=5)
        conn.prepare_threshold = prepare_threshold
        return conn

    try:
        clients = {"A": connect(0), "B": connect(0)}
        hog = connect(None)  # never prepares
    except psycopg.Error as e:
        sys.exit(f"FAIL: cannot connect through the bouncer: {e}")

    # Statement texts of this run only, so the bouncer has none prepared yet.
    tag = f"/* check_pgbouncer {random.getrandbits(48):012x} */ "
    queries = [(tag + sql, params) for sql, params in QUERIES]
    before = bouncer_stats(args)
    rng = random.Random(7)
    pids = {name: set() for name in clients}
    executions = 0
    try:
        for rnd in range(args.rounds):
            order = list(clients)
            rng.shuffle(order)
            hog_holds = rnd % 3 == 1
            if hog_holds:
                hog.execute("SELECT 1")  # opens a transaction: holds a server connection
            for name in order:  # each opens a transaction and keeps its server connection
                conn = clients[name]
                for sql, params in queries:
                    row = conn.execute(sql, params).fetchone()
                    executions += 1
                    if sql.endswith("pg_backend_pid()"):
                        pids[name].add(row[0])
                    elif "SELECT %s" in sql:
                        assert row[0] == 42, row
                    elif "search_path" in sql and args.search_path:
                        want = f'"{args.search_path}"'
                        if row[0] not in (want, args.search_path):
                            sys.exit(f"FAIL: client {name} landed on a server connection with "
                                     f"search_path {row[0]!r}, expected {want}")
            rng.shuffle(order)
            for name in order:
                clients[name].commit()
            if hog_holds:
                hog.commit()
    except psycopg.Error as e:
        sys.exit(f"FAIL after {executions} executions: {type(e).__name__}: {e}".rstrip())

    for name, seen in pids.items():
        if len(seen) < 2:
            sys.exit(f"FAIL: client {name} stayed on one server connection ({seen}); "
                     "the check proved nothing (is the pool in transaction mode?)")

    # The bouncer's own view (PgBouncer >= 1.21): the client side parsed each
    # statement once, the bouncer parsed it again on every other server
    # connection it landed on, and every execution was a Bind by name.
    extra = ""
    after = bouncer_stats(args)
    if before and after and "total_server_parse_count" in after:
        delta = {k: int(after[k]) - int(before[k]) for k in
                 ("total_client_parse_count", "total_server_parse_count", "total_bind_count")}
        try:
            version = admin(args, "SHOW VERSION")[0]["version"]
        except (subprocess.CalledProcessError, OSError, IndexError, KeyError):
            version = "PgBouncer"
        extra = (f"; {version}: {delta['total_client_parse_count']} client parses, "
                 f"{delta['total_server_parse_count']} server parses, {delta['total_bind_count']} binds")
    for conn in (*clients.values(), hog):
        conn.close()
    print(f"ok: {executions} executions of {len(QUERIES)} named prepared statements by 2 clients "
          f"in {2 * args.rounds} transactions, client A on server pids {sorted(pids['A'])}, "
          f"B on {sorted(pids['B'])}{extra}")


if __name__ == "__main__":
    main()
