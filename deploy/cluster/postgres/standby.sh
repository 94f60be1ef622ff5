#!/bin/sh
# Makes db-2 a synchronous standby of db-1: run once on db-2, as postgres, with PostgreSQL stopped and its
# data directory empty. The primary needs a `replicator` role (LOGIN REPLICATION) and a pg_hba.conf line
# letting it connect for replication from db-2.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/16/main}
pg_basebackup --host=db-1 --username=replicator --pgdata="$PGDATA" --wal-method=stream \
  --write-recovery-conf --progress
# The name the primary's synchronous_standby_names waits for.
echo "primary_conninfo = 'host=db-1 user=replicator application_name=db_2'" >> "$PGDATA/postgresql.auto.conf"
