#!/usr/bin/env bash
# Start what the tests need when it is stopped: PostgreSQL, Redis, Node (SDK tests), Chromium (console tests).
set -u
as_root() { [ "$(id -u)" = 0 ]; }
apt_ready=0
apt_install() {
  as_root || { echo "warning: not root, cannot install $*" >&2; return 1; }
  if [ $apt_ready = 0 ]; then apt-get update -qq >/dev/null 2>&1 && apt_ready=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "starting PostgreSQL" >&2
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" postgres 2>/dev/null | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" postgres >/dev/null 2>&1 || true
else
  echo "warning: PostgreSQL is not reachable on 127.0.0.1:5432; PostgreSQL tests will fail" >&2
fi

if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis" >&2
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 || true
fi

command -v node >/dev/null || apt_install nodejs || echo "warning: node missing" >&2
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian chromium for the console tests" >&2
  apt_install chromium chromium-driver || echo "warning: chromium could not be installed" >&2
fi
# A small CJK font so the console's Chinese UI is legible in test screenshots (not needed to pass).
if [ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] && as_root; then
  apt_install fonts-wqy-microhei || echo "warning: no CJK font: screenshots show boxes for Chinese" >&2
fi
exit 0
