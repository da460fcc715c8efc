#!/usr/bin/env bash
# Start the whole studio under supervisord: a loopback Redis (unless REDIS_URL is set),
# daphne on HOST:PORT and WORKERS generation workers. supervisord restarts whatever crashes
# and stops everything on Ctrl-C / SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
WORKERS=${WORKERS:-1}
HTTP_TIMEOUT=${STUDIO_HTTP_TIMEOUT:-60}
VAR=${STUDIO_VAR_DIR:-$ROOT/var}
mkdir -p "$VAR/log" "$VAR/redis"
REDIS_PORT=${STUDIO_REDIS_PORT:-6385}
START_REDIS=""
if [ -z "${REDIS_URL:-}" ]; then
  START_REDIS=1
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
fi

conf="$VAR/supervisord.conf"
{
  echo "[supervisord]"
  echo "nodaemon=true"
  echo "user=$(id -un)"
  echo "logfile=$VAR/log/supervisord.log"
  echo "pidfile=$VAR/supervisord.pid"
  echo "childlogdir=$VAR/log"
  echo
  echo "[unix_http_server]"
  echo "file=$VAR/supervisor.sock"
  echo
  echo "[rpcinterface:supervisor]"
  echo "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface"
  echo
  echo "[supervisorctl]"
  echo "serverurl=unix://$VAR/supervisor.sock"
  echo
  if [ -n "$START_REDIS" ]; then
    echo "[program:redis]"
    echo "command=$(command -v redis-server) --port $REDIS_PORT --bind 127.0.0.1 --dir $VAR/redis --save '' --appendonly no"
    echo "priority=10"
    echo "autorestart=true"
    echo "stopsignal=TERM"
    echo "redirect_stderr=true"
    echo "stdout_logfile=$VAR/log/redis.log"
    echo
  fi
  echo "[program:daphne]"
  # studio.serve: daphne with request bodies capped as they arrive (studio/bodylimit.py);
  # -t: a request whose answer has not started after HTTP_TIMEOUT seconds gets a 503
  echo "command=$ROOT/.venv/bin/python -m studio.serve -t $HTTP_TIMEOUT -b $HOST -p $PORT studio.asgi:application"
  echo "directory=$ROOT"
  echo "priority=20"
  echo "autorestart=true"
  echo "startsecs=2"
  echo "startretries=1000000"
  echo "stopwaitsecs=10"
  echo "redirect_stderr=true"
  echo "stdout_logfile=$VAR/log/daphne.log"
  echo
  echo "[program:worker]"
  echo "command=$ROOT/.venv/bin/python manage.py runworker generation"
  echo "process_name=%(program_name)s-%(process_num)d"
  echo "numprocs=$WORKERS"
  echo "directory=$ROOT"
  echo "priority=30"
  echo "autorestart=true"
  echo "startsecs=2"
  # never give up: a worker that cannot reach Redis exits at once; supervisord waits one
  # second longer before each new try, and the worker is back soon after Redis is
  echo "startretries=1000000"
  # SIGTERM lets a worker re-queue its running job before it exits
  echo "stopsignal=TERM"
  echo "stopwaitsecs=30"
  echo "redirect_stderr=true"
  echo "stdout_logfile=$VAR/log/worker-%(process_num)d.log"
  # a new install's gallery fills with one example per style (through the workers, within
  # a minute); once made, never again (seed_examples --if-new); STUDIO_SEED_EXAMPLES=0: never
  if [ "${STUDIO_SEED_EXAMPLES:-1}" != "0" ]; then
  echo
  echo "[program:examples]"
  echo "command=$ROOT/.venv/bin/python manage.py seed_examples --if-new"
  echo "directory=$ROOT"
  echo "priority=40"
  echo "autorestart=false"
  echo "startsecs=0"
  echo "redirect_stderr=true"
  echo "stdout_logfile=$VAR/log/examples.log"
  fi
} > "$conf"

echo "Cadenza is starting: http://$HOST:$PORT/  (logs in $VAR/log, Ctrl-C stops everything)"
exec "$ROOT/.venv/bin/supervisord" -c "$conf"
