#!/usr/bin/env bash
# Installs the PostgreSQL server and PostGIS from the OS packages when they are
# missing (Debian/Ubuntu), pgBackRest (backups, WAL archive, point-in-time restore),
# wrk, the HTTP load generator of bench/api_verify.py, GDAL's ogr2ogr, the peer of
# bench/load_land.py, and
# Node.js with npm for the GraphQL-over-HTTP audit (tests/api/graphql_http_audit).
# Idempotent: does nothing when all are present.
# It never creates or starts a system-wide cluster: mdr runs its own under var/.
set -euo pipefail

bindir=""
if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/postgres" ]; then
  bindir=$(pg_config --bindir)
else
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
    if [ -x "$dir/postgres" ]; then bindir=$dir; break; fi
  done
fi

packages=()
if [ -n "$bindir" ]; then
  major=$("$bindir/postgres" --version | grep -oE '[0-9]+' | head -n1)
  if ! ls /usr/share/postgresql/"$major"/extension/postgis.control >/dev/null 2>&1; then
    packages=("postgresql-$major-postgis-3")
  fi
else
  packages=(postgresql postgis)
fi
command -v pgbackrest >/dev/null 2>&1 || packages+=(pgbackrest)
command -v wrk >/dev/null 2>&1 || packages+=(wrk)
# ogr2ogr: the peer of bench/load_land.py (mdr itself reads spatial files through pyogrio).
command -v ogr2ogr >/dev/null 2>&1 || packages+=(gdal-bin)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
[ ${#packages[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo)
else
  echo "mdr needs ${packages[*]}. Install them as root, then run make again:" >&2
  echo "    apt-get update && apt-get install -y ${packages[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "mdr needs ${packages[*]}; install them with your" \
       "system's package manager, or set MDR_PG_BINDIR / MDR_DATABASE_URL." >&2
  exit 1
fi

echo "Installing ${packages[*]} from the OS packages..." >&2
# Debian's server package would otherwise create and start a system-wide cluster.
"${sudo[@]}" mkdir -p /etc/postgresql-common
if ! grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
  echo "create_main_cluster = false" | "${sudo[@]}" tee -a /etc/postgresql-common/createcluster.conf >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q >/dev/null
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null
echo "Installed ${packages[*]}." >&2
