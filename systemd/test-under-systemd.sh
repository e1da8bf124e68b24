#!/usr/bin/env bash
# End-to-end check of systemd/feedwatch.service under a real systemd: boots
# this machine's own filesystem in a systemd-nspawn container (host /usr
# read-only, the CA certificates of /etc/ssl, everything else a throw-away
# tmpfs), installs the unit unchanged
# except for where the binary lives (a drop-in), and checks that
#   - the service starts (Type=notify: `systemctl start` returns on READY=1),
#   - it polls, with its database in the StateDirectory,
#   - it finds the SMTP password in the credential smtp-password,
#   - `systemctl reload` applies a valid config, and an invalid one is
#     refused with its line while the service keeps running,
#   - `systemctl stop` ends it cleanly (Result=success),
#   - `feedwatch status` then reads the state it left.
# Needs root and systemd-nspawn (package systemd-container, installed here
# when missing). Traffic stays on this machine: the config's SMTP server is
# 127.0.0.1:9, where nothing listens, so the digest stays queued.
#
# Usage: systemd/test-under-systemd.sh [path/to/feedwatch]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/debug/feedwatch}
if [ ! -x "$bin" ]; then (cd "$here" && cargo build --locked); fi
if ! command -v systemd-nspawn >/dev/null; then
  apt-get update -qq && apt-get install -y -qq systemd-container >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/etc" "$work/opt" "$work/result" "$work/dropin"
chmod 755 "$work/opt" "$work/dropin"
chmod 777 "$work/result"
install -m 755 "$bin" "$work/opt/feedwatch"
install -m 644 "$here/config/sample-feed.xml" "$work/etc/sample-feed.xml"
cat > "$work/etc/feedwatch.toml" <<'EOF'
# No state_dir: the unit's StateDirectory ($STATE_DIRECTORY) is used.
timezone = "Europe/Kyiv"
[poll]
backfill = "all"
[email]
from = "feedwatch <feedwatch@example.org>"
to = ["analyst@example.org"]
smtp = "smtp://feedwatch@127.0.0.1:9"
[[feeds]]
name = "sample"
url = "file://sample-feed.xml"
[[rules]]
name = "iran-drones-ukraine"
query = 'iran* AND drone* AND ukrain*'
[[digests]]
name = "default"
schedule = "immediate"
EOF
chmod 644 "$work/etc/feedwatch.toml"
printf 'test-password\n' > "$work/etc/smtp-password"
chmod 600 "$work/etc/smtp-password"

cat > "$work/dropin/binary.conf" <<'EOF'
[Service]
ExecStartPre=
ExecStartPre=/opt/feedwatch/feedwatch --config ${CONFIGURATION_DIRECTORY}/feedwatch.toml check
ExecStart=
ExecStart=/opt/feedwatch/feedwatch --config ${CONFIGURATION_DIRECTORY}/feedwatch.toml run
EOF

cat > "$work/opt/probe.sh" <<'EOF'
#!/bin/bash
# Runs inside the container as its only job, then powers it off.
set -u
log() { journalctl --no-pager -u feedwatch.service; }
finish() {
  echo "$1" > /fwresult/result
  log > /fwresult/journal.txt 2>&1
  systemctl show feedwatch.service > /fwresult/show.txt 2>&1
  systemctl poweroff --no-block
  exit 0
}
wait_for() {  # wait_for TEXT: the service's journal shows TEXT (bounded)
  for _ in $(seq 100); do log | grep -q "$1" && return 0; sleep 0.2; done
  return 1
}
systemctl start feedwatch.service || finish "FAIL: feedwatch.service did not start"
[ "$(systemctl show -p ActiveState --value feedwatch.service)" = active ] || finish "FAIL: not active after start"
wait_for "poll finished" || finish "FAIL: no poll"
[ -s /var/lib/private/feedwatch/feedwatch.db ] || finish "FAIL: no database in the StateDirectory"
log | grep -q "password from the systemd credential smtp-password" || finish "FAIL: the credential was not found"
wait_for "digest not delivered" || finish "FAIL: no delivery attempt"

systemctl reload feedwatch.service || finish "FAIL: reload failed"
wait_for "config reloaded" || finish "FAIL: the valid config was not reloaded"

cp /etc/feedwatch/feedwatch.toml /tmp/good.toml
sed -i 's|Europe/Kyiv|Mars/Olympus|' /etc/feedwatch/feedwatch.toml
systemctl reload feedwatch.service
wait_for "invalid config" || finish "FAIL: the invalid config was not reported"
log | grep "invalid config" | grep -q "line=2" || finish "FAIL: the error does not name the line"
[ "$(systemctl show -p ActiveState --value feedwatch.service)" = active ] || finish "FAIL: stopped on an invalid config"
cp /tmp/good.toml /etc/feedwatch/feedwatch.toml

systemctl stop feedwatch.service
[ "$(systemctl show -p Result --value feedwatch.service)" = success ] || finish "FAIL: did not stop cleanly"
status=$(STATE_DIRECTORY=/var/lib/private/feedwatch /opt/feedwatch/feedwatch -c /etc/feedwatch/feedwatch.toml status 2>&1)
echo "$status" > /fwresult/status.txt
echo "$status" | grep -q "^sample " || finish "FAIL: status does not show the feed"
echo "$status" | grep -q "failed 1" || finish "FAIL: status does not show the queued digest"
finish PASS
EOF
chmod 755 "$work/opt/probe.sh"

cat > "$work/fw-probe.service" <<'EOF'
[Unit]
Description=feedwatch end-to-end probe
[Service]
Type=oneshot
ExecStart=/opt/feedwatch/probe.sh
EOF

echo "booting a container with feedwatch.service…"
timeout 120 systemd-nspawn --quiet --volatile=yes --directory=/ --boot --register=no --keep-unit \
  --machine=feedwatch-test \
  --bind="$work/etc:/etc/feedwatch" \
  --bind-ro="$work/opt:/opt/feedwatch" \
  --bind="$work/result:/fwresult" \
  --bind-ro="$here/systemd/feedwatch.service:/etc/systemd/system/feedwatch.service" \
  --bind-ro="$work/dropin:/etc/systemd/system/feedwatch.service.d" \
  --bind-ro="$work/fw-probe.service:/etc/systemd/system/fw-probe.service" \
  --bind-ro=/dev/null:/etc/systemd/system/systemd-firstboot.service \
  --bind-ro=/etc/ssl:/etc/ssl \
  -- --unit=fw-probe.service systemd.firstboot=off > "$work/console.txt" 2>&1 || true

result=$(cat "$work/result/result" 2>/dev/null || echo "FAIL: the probe did not report (see the console below)")
if [ "$result" != PASS ]; then
  echo "$result"
  echo "--- journal of feedwatch.service"; cat "$work/result/journal.txt" 2>/dev/null || true
  echo "--- console (last 40 lines)"; tail -n 40 "$work/console.txt"
  exit 1
fi
echo "--- status after stop"; cat "$work/result/status.txt"
echo "PASS: feedwatch.service started, polled, used its state directory and credential, reloaded, refused a bad config and stopped cleanly under systemd"
