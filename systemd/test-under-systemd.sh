#!/usr/bin/env bash
# End-to-end check of the operator's first day under a real systemd. Boots
# this machine's own filesystem in a systemd-nspawn container (volatile: a
# fresh /etc and /var, writable overlays on /usr, the repository and cargo's
# home, so nothing it writes survives; a private network: only loopback),
# and inside it runs the README's install block exactly as written (the
# block after the `<!-- install:` marker in README.md), then checks that
#   - the service starts without /etc/feedwatch/smtp-password (the credential
#     is optional), polls into its state directory, and says when the next
#     poll and digest are due in `systemctl status`;
#   - root's `feedwatch check`, `status` and `digest` work with no prefix and
#     no environment, against the running service;
#   - log levels reach the journal (`journalctl -p warning`), and the
#     scheduler crate's chatter does not;
#   - `systemctl reload` applies a valid config, and fails visibly on an
#     invalid one (the line and column in the journal) while the service
#     goes on with the old config;
#   - the SMTP password comes from the credential for the service and from
#     its source file for root, reaching a real SMTP server on loopback;
#   - `systemctl stop` ends it within seconds with a slow feed in flight,
#     cleanly (Result=success), and `status` then reads what it left;
#   - a full_text feed whose articles are pages nested 30,000 and 100,000
#     deep (and 2 MB of nested tables) costs those articles only: the
#     daemon polls the other feeds, is neither restarted nor killed by the
#     watchdog, `status` says why, and it stops within seconds;
#   - a database restored by root and left root's is refused at start, at
#     priority err, with the chown that fixes it, which does;
#   - the example installed as it is in the repository (with its state_dir)
#     gets a warning from `check`, and the service's error says what to do.
# Needs root and systemd-nspawn (package systemd-container, installed here
# when missing). Builds the release binary first (`cargo build --release
# --locked`, the install block's first line, then a no-op inside).
#
# Usage: systemd/test-under-systemd.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
if ! command -v systemd-nspawn >/dev/null; then
  apt-get update -qq && apt-get install -y -qq systemd-container >/dev/null
fi
cargo build --release --locked

work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/result" "$work/opt"
chmod 777 "$work/result"

# The README's install block, as written.
awk '/<!-- install:/ {found=1; next} found && /^```sh/ {inside=1; next} inside && /^```/ {exit} inside {print}' \
  README.md > "$work/opt/install.sh"
[ -s "$work/opt/install.sh" ] || { echo "FAIL: no install block in README.md"; exit 1; }

# Loopback servers the probe starts inside the container: an SMTP server
# (AUTH PLAIN, no TLS) that keeps each message with the password it was
# given, and an HTTP server that never answers.
cat > "$work/opt/servers.py" <<'EOF'
import base64, socketserver, sys, time, threading
class Smtp(socketserver.StreamRequestHandler):
    def reply(self, line): self.wfile.write((line + "\r\n").encode())
    def handle(self):
        self.reply("220 test ESMTP"); password, n = "", 0
        while True:
            line = self.rfile.readline().decode(errors="replace").strip()
            if not line: return
            verb = line.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"): self.wfile.write(b"250-test\r\n250 AUTH PLAIN\r\n")
            elif verb == "AUTH":
                parts = line.split(" ")
                blob = parts[2] if len(parts) > 2 else (self.reply("334 ") or self.rfile.readline().decode().strip())
                password = base64.b64decode(blob).split(b"\0")[-1].decode(); self.reply("235 ok")
            elif verb == "DATA":
                self.reply("354 go"); data = []
                while True:
                    l = self.rfile.readline().decode(errors="replace")
                    if l.strip() == ".": break
                    data.append(l)
                with open(f"/fwresult/mail-{time.time_ns()}.eml", "w") as f:
                    f.write(f"X-Test-Password: {password}\n" + "".join(data))
                self.reply("250 stored")
            elif verb == "QUIT": self.reply("221 bye"); return
            else: self.reply("250 ok")
class Silent(socketserver.StreamRequestHandler):
    def handle(self): time.sleep(300)
import http.server, email.utils
STORY = "<p>Officials in Kyiv said Iranian drones hit the port of Odesa overnight.</p>" * 20
PAGES = {"/deep30k": "<div>" * 30000, "/deep100k": "<div>" * 100000,
         "/tables": "<table><tr><td>" * 130000}
def feed(items):
    now = email.utils.formatdate(usegmt=True)
    body = "".join(f"<item><guid>{g}</guid><title>{t}</title><link>{l}</link>"
                   f"<description>Drones over Ukraine, officials say.</description><pubDate>{now}</pubDate></item>"
                   for g, t, l in items)
    return f'<rss version="2.0"><channel><title>t</title>{body}</channel></rss>'
class Hostile(http.server.BaseHTTPRequestHandler):
    # A feed whose items link to pages built to crash or wedge an HTML
    # parser, and a calm feed beside it.
    def do_GET(self):
        base = "http://127.0.0.1:8089"
        if self.path == "/hostile.xml":
            body, ctype = feed([(p, "Hostile " + p, base + p) for p in PAGES]), "application/rss+xml"
        elif self.path == "/calm.xml":
            body, ctype = feed([("calm1", "Calm", "")]), "application/rss+xml"
        elif self.path in PAGES:
            body, ctype = "<html><body>" + PAGES[self.path] + STORY, "text/html"
        else:
            self.send_response(404); self.end_headers(); return
        data = body.encode()
        self.send_response(200); self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    def log_message(self, *a): pass
hostile = http.server.ThreadingHTTPServer(("127.0.0.1", 8089), Hostile)
threading.Thread(target=hostile.serve_forever, daemon=True).start()
for handler, port in ((Smtp, 2525), (Silent, 8088)):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
time.sleep(100000)
EOF

cat > "$work/opt/probe.sh" <<EOF
#!/bin/bash
# Runs inside the container as its only job, then powers it off.
set -u
repo=$here
export HOME=$HOME
EOF
cat >> "$work/opt/probe.sh" <<'EOF'
export PATH=/usr/local/bin:$HOME/.cargo/bin:/usr/bin:/bin
log() { journalctl --no-pager -u feedwatch.service; }
finish() {
  echo "$1" > /fwresult/result
  log > /fwresult/journal.txt 2>&1
  systemctl show feedwatch.service > /fwresult/show.txt 2>&1
  systemctl poweroff --no-block
  exit 0
}
wait_for() {  # wait_for TEXT [COUNT]: the journal shows TEXT (COUNT times), bounded
  for _ in $(seq 150); do [ "$(log | grep -c -- "$1")" -ge "${2:-1}" ] && return 0; sleep 0.2; done
  return 1
}
config=/etc/feedwatch/feedwatch.toml
cd "$repo" || finish "FAIL: no repository at $repo"
bash -eu /opt/fw/install.sh > /fwresult/install.txt 2>&1 || finish "FAIL: the README's install block failed (see install.txt)"

# The example as installed: no password file, no state_dir, no prefix.
[ "$(systemctl show -p ActiveState --value feedwatch)" = active ] || finish "FAIL: not active after the install block"
wait_for "poll finished" || finish "FAIL: no poll"
[ -s /var/lib/private/feedwatch/feedwatch.db ] || finish "FAIL: no database in the StateDirectory"
[ -s /usr/share/bash-completion/completions/feedwatch ] || finish "FAIL: no bash completion installed"
grep -q '^.TH feedwatch-backup 1' /usr/local/share/man/man1/feedwatch-backup.1 || finish "FAIL: no man pages installed"
systemctl show -p StatusText --value feedwatch | grep -q "next poll .*next digest morning" \
  || finish "FAIL: StatusText does not say when the next poll and digest are due: $(systemctl show -p StatusText --value feedwatch)"
feedwatch check > /fwresult/check.txt 2>&1 || finish "FAIL: root's check failed"
grep -q "state: /var/lib/feedwatch" /fwresult/check.txt || finish "FAIL: check does not say where the state is"
grep -q "is not the unit" /fwresult/check.txt && finish "FAIL: check warns about the unit it ships"
# An upgrade that kept the old unit: check says so, with the fix.
cp /etc/systemd/system/feedwatch.service /tmp/unit.good
sed -i 's|^ExecReload=.*check$|# (an old unit had no check before a reload)|' /etc/systemd/system/feedwatch.service
feedwatch check 2>&1 | grep -q "is not the unit this feedwatch ships" || finish "FAIL: check does not warn about an old unit"
cp /tmp/unit.good /etc/systemd/system/feedwatch.service
feedwatch status > /fwresult/status.txt 2>&1 || finish "FAIL: root's status failed"
# Another user may not look into the service's state: told so, not told to poll first.
setpriv --reuid=65534 --regid=65534 --clear-groups feedwatch -c /etc/feedwatch/feedwatch.toml status > /fwresult/nobody.txt 2>&1
grep -q "may not read the feedwatch database" /fwresult/nobody.txt || finish "FAIL: a non-root user's status says: $(cat /fwresult/nobody.txt)"
grep -q "^sample-world-desk " /fwresult/status.txt || finish "FAIL: status does not show the feed"
grep -Eq "^morning +1 +[0-9-]+ 07:00 EES?T" /fwresult/status.txt || finish "FAIL: status does not show the digest's pending item and next send"
log | grep -q "Job creator created" && finish "FAIL: the scheduler's chatter reaches the journal"

# A second instance beside the first (the template unit): its own config,
# state and user; root's commands on its config read its database, never
# the main service's.
install -m 644 "$repo/systemd/feedwatch@.service" /etc/systemd/system/
install -d -m 755 /etc/feedwatch-second
sed -e '/^state_dir/d' -e 's/sample-world-desk/second-desk/' "$repo/config/feedwatch.toml" > /etc/feedwatch-second/feedwatch.toml
install -m 644 "$repo/config/sample-feed.xml" /etc/feedwatch-second/sample-feed.xml
feedwatch -c /etc/feedwatch-second/feedwatch.toml check > /fwresult/check-second.txt 2>&1 || finish "FAIL: check of the second instance failed: $(cat /fwresult/check-second.txt)"
grep -q "state: /var/lib/feedwatch-second " /fwresult/check-second.txt || finish "FAIL: check does not name the instance's state: $(cat /fwresult/check-second.txt)"
grep -q "is not the unit" /fwresult/check-second.txt && finish "FAIL: check warns about the template it ships"
systemctl daemon-reload
systemctl enable --now feedwatch@second || finish "FAIL: the second instance did not start"
for _ in $(seq 60); do journalctl --no-pager -u feedwatch@second | grep -q "poll finished" && break; sleep 0.5; done
journalctl --no-pager -u feedwatch@second | grep -q "poll finished" || finish "FAIL: the second instance did not poll"
[ -s /var/lib/private/feedwatch-second/feedwatch.db ] || finish "FAIL: the second instance has no database of its own"
feedwatch -c /etc/feedwatch-second/feedwatch.toml status > /fwresult/status-second.txt 2>&1 || finish "FAIL: root's status of the second instance failed"
grep -q "^second-desk " /fwresult/status-second.txt || finish "FAIL: root's status of the second instance does not show its feed"
grep -q "^sample-world-desk " /fwresult/status-second.txt && finish "FAIL: root's status of the second instance read the first's database"
feedwatch status | grep -q "^second-desk " && finish "FAIL: the first instance's database has the second's feed"
[ "$(systemctl show -p ActiveState --value feedwatch)" = active ] || finish "FAIL: the first instance stopped beside the second"
systemctl disable --now feedwatch@second

# Journal priorities: a failing feed is a warning, a poll summary is not.
cat >> $config <<'TOML'
[[feeds]]
name = "missing"
url = "file:///etc/feedwatch/missing.xml"
TOML
systemctl reload feedwatch || finish "FAIL: reload of a valid config failed"
wait_for "config reloaded" || finish "FAIL: the valid config was not reloaded"
systemctl restart feedwatch
wait_for "poll finished" 2 || finish "FAIL: no poll after the restart"
warnings=$(journalctl --no-pager -u feedwatch -p warning)
echo "$warnings" > /fwresult/warnings.txt
echo "$warnings" | grep -q "feed failed.*missing" || finish "FAIL: the failing feed is not a warning in the journal"
echo "$warnings" | grep -q "poll finished" && finish "FAIL: info lines reach -p warning"

# An invalid config: the reload fails visibly, the service goes on.
cp $config /tmp/good.toml
sed -i 's|Europe/Kyiv|Mars/Olympus|' $config
systemctl reload feedwatch 2> /fwresult/reload.txt && finish "FAIL: reload of an invalid config succeeded"
log | grep -q "feedwatch.toml:[0-9]*:[0-9]*: unknown time zone 'Mars/Olympus'" || finish "FAIL: the reload error does not name the line and column"
journalctl --no-pager -u feedwatch -p err | grep -q "unknown time zone 'Mars/Olympus'" || finish "FAIL: the reload error is not at priority err in the journal"
[ "$(systemctl show -p ActiveState --value feedwatch)" = active ] || finish "FAIL: stopped on an invalid config"
cp /tmp/good.toml $config

# SMTP with a password: the credential for the service, its source for root.
python3 /opt/fw/servers.py & sleep 0.5
sed -i 's|^transport = "stdout"|smtp = "smtp://feedwatch@127.0.0.1:2525"\ninsecure_auth = true|' $config
cat >> $config <<'TOML'
[[rules]]
name = "unveils"
query = 'drone*'
digest = "now"
[[digests]]
name = "now"
schedule = "immediate"
TOML
install -m 600 /dev/null /etc/feedwatch/smtp-password && printf 'from-the-credential\n' > /etc/feedwatch/smtp-password
feedwatch check 2>&1 | grep -q "password from /etc/feedwatch/smtp-password" || finish "FAIL: root's check does not find the credential's source"
# A config only root can read: the service could not start; check says so.
chmod 600 $config
feedwatch check > /fwresult/check-600.txt 2>&1
grep -q "can be read by its owner only" /fwresult/check-600.txt || finish "FAIL: check passes a config the service cannot read: $(cat /fwresult/check-600.txt)"
chmod 644 $config
rm -f /var/lib/private/feedwatch/feedwatch.db*   # so that the sample alerts again
systemctl restart feedwatch || finish "FAIL: restart with the SMTP config failed"
log | grep -q "password from the systemd credential smtp-password" || finish "FAIL: the service did not find the credential"
wait_for "digest sent" || finish "FAIL: the service sent no immediate digest"
grep -l "X-Test-Password: from-the-credential" /fwresult/mail-*.eml >/dev/null 2>&1 || finish "FAIL: the service's message did not carry the credential's password"
grep -l "Sent by feedwatch on $(hostname)" /fwresult/mail-*.eml >/dev/null 2>&1 || finish "FAIL: the service's digest does not name its host $(hostname) (ProcSubset=pid hides /proc/sys/kernel/hostname): $(grep -h 'Sent by feedwatch' /fwresult/mail-*.eml | head -1)"
mails=$(ls /fwresult/mail-*.eml | wc -l)
feedwatch digest morning > /fwresult/digest.txt 2>&1 || finish "FAIL: root's digest failed: $(cat /fwresult/digest.txt)"
[ "$(ls /fwresult/mail-*.eml | wc -l)" -gt "$mails" ] || finish "FAIL: root's digest sent nothing"
grep -l "Ukraine confirms talks with Tehran" /fwresult/mail-*.eml >/dev/null || finish "FAIL: root's digest lacks the seed article"

# Stop with a feed in flight that never answers: within seconds, cleanly.
cat >> $config <<'TOML'
[[feeds]]
name = "silent"
url = "http://127.0.0.1:8088/feed.xml"
TOML
systemctl restart feedwatch
wait_for "feed polled feed=sample-world-desk" 2 || finish "FAIL: no poll with the silent feed"
start=$(date +%s%N)
systemctl stop feedwatch
took=$(( ($(date +%s%N) - start) / 1000000 ))
echo "$took" > /fwresult/stop-ms.txt
[ "$(systemctl show -p Result --value feedwatch)" = success ] || finish "FAIL: did not stop cleanly"
[ "$took" -lt 5000 ] || finish "FAIL: stopping took $took ms"
feedwatch status > /fwresult/status.txt 2>&1 || finish "FAIL: status after stop failed"
grep -q "^silent " /fwresult/status.txt || finish "FAIL: status does not show the silent feed"

# Hostile article pages (30,000 and 100,000 nested divs, 2 MB of nested
# tables) behind a full_text feed: each costs its own article; the daemon
# keeps polling the other feeds, is never restarted or killed by the
# watchdog, and stops within seconds.
# The hostile server stands in for a site on the internet: the guard
# refuses loopback links unless allowed.
sed -i 's|^\[poll\]|[poll]\nallow_internal = ["127.0.0.1:8089"]|' $config
cat >> $config <<'TOML'
[[feeds]]
name = "hostile"
url = "http://127.0.0.1:8089/hostile.xml"
full_text = true
[[feeds]]
name = "calm"
url = "http://127.0.0.1:8089/calm.xml"
TOML
systemctl start feedwatch
pid=$(systemctl show -p MainPID --value feedwatch)
wait_for "feed polled feed=hostile" || finish "FAIL: the hostile feed was not polled"
wait_for "feed polled feed=calm" || finish "FAIL: the calm feed was not polled beside the hostile one"
log | grep "no article text" > /fwresult/hostile.txt
[ "$(grep -c "more than 512 deep" /fwresult/hostile.txt)" -eq 3 ] || finish "FAIL: the hostile pages were not refused as too deep (see hostile.txt)"
systemctl reload feedwatch && wait_for "config reloaded" 2 || finish "FAIL: no reload after the hostile poll"
[ "$(systemctl show -p MainPID --value feedwatch)" = "$pid" ] || finish "FAIL: the daemon restarted (a crash?)"
[ "$(systemctl show -p NRestarts --value feedwatch)" = 0 ] || finish "FAIL: the daemon was restarted"
[ "$(systemctl show -p ActiveState --value feedwatch)" = active ] || finish "FAIL: not active after the hostile pages"
feedwatch status > /fwresult/status-hostile.txt 2>&1 || finish "FAIL: status after the hostile pages failed"
grep -q "more than 512 deep" /fwresult/status-hostile.txt || finish "FAIL: status does not say why the articles failed"
start=$(date +%s%N)
systemctl stop feedwatch
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$(systemctl show -p Result --value feedwatch)" = success ] || finish "FAIL: did not stop cleanly after the hostile pages"
[ "$took" -lt 5000 ] || finish "FAIL: stopping after the hostile pages took $took ms"

# feedwatch backup beside the running service, then restore after a stop:
# the database keeps the service's (dynamic) owner, and the service starts
# on it.
db=/var/lib/private/feedwatch/feedwatch.db
polls=$(log | grep -c "poll finished")
# Started and stopped often by now: past systemd's start rate limit.
systemctl reset-failed feedwatch 2>/dev/null || true
systemctl start feedwatch
wait_for "poll finished" $((polls + 1)) || finish "FAIL: no poll before the backup"
feedwatch backup /root/fw-online.db > /fwresult/backup.txt 2>&1 || finish "FAIL: backup beside the service failed: $(cat /fwresult/backup.txt)"
[ "$(stat -c %a /root/fw-online.db)" = 600 ] || finish "FAIL: the backup is readable by others"
feedwatch restore /root/fw-online.db > /fwresult/restore-running.txt 2>&1 && finish "FAIL: restore ran beside the service"
grep -q "stop it first" /fwresult/restore-running.txt || finish "FAIL: restore beside the service says: $(cat /fwresult/restore-running.txt)"
owner=$(stat -c %u:%g "$db")
systemctl stop feedwatch
feedwatch restore /root/fw-online.db > /fwresult/restore.txt 2>&1 || finish "FAIL: restore failed: $(cat /fwresult/restore.txt)"
[ "$(stat -c %u:%g "$db")" = "$owner" ] || finish "FAIL: restore gave the database to $(stat -c %u:%g "$db"), not the service's $owner"
polls=$(log | grep -c "poll finished")
systemctl reset-failed feedwatch 2>/dev/null || true
systemctl start feedwatch
wait_for "poll finished" $((polls + 1)) || finish "FAIL: no poll on the restored database"
systemctl stop feedwatch

# Root restores a backup and forgets to give it back: the service refuses
# to start, says why at priority err with the command that fixes it, and
# starts once that command is run.
db=/var/lib/private/feedwatch/feedwatch.db
sqlite3 "$db" ".backup /root/fw-backup.db" 2>/dev/null || cp "$db" /root/fw-backup.db
rm -f "$db" "$db-wal" "$db-shm"
cp /root/fw-backup.db "$db" && chown root:root "$db" && chmod 644 "$db"
systemctl reset-failed feedwatch 2>/dev/null || true
systemctl start feedwatch 2>/dev/null
sleep 2
[ "$(systemctl show -p ActiveState --value feedwatch)" = active ] && finish "FAIL: the service runs on a database it cannot write"
journalctl --no-pager -u feedwatch -p err | grep "cannot be written by this process" | tail -1 > /fwresult/readonly-db.txt
fix=$(grep -o 'chown --reference=[^`]*' /fwresult/readonly-db.txt | head -1)
[ -n "$fix" ] || finish "FAIL: the refusal does not say how to fix it (see readonly-db.txt)"
systemctl stop feedwatch 2>/dev/null || true
eval "$fix" || finish "FAIL: the fix it names does not run: $fix"
systemctl reset-failed feedwatch 2>/dev/null || true
polls=$(log | grep -c "poll finished")
systemctl start feedwatch
wait_for "poll finished" $((polls + 1)) || finish "FAIL: no poll after the fix"
[ "$(systemctl show -p ActiveState --value feedwatch)" = active ] || finish "FAIL: not active after the fix"
systemctl stop feedwatch

# The example exactly as in the repository (state_dir and all): check warns,
# and the service's error says why and what to do, once.
cp "$repo/config/feedwatch.toml" $config
feedwatch check > /dev/null 2> /fwresult/check-example.txt
grep -q "state_dir is set to .*the systemd unit can write only /var/lib/feedwatch" /fwresult/check-example.txt \
  || finish "FAIL: check does not warn about the example's state_dir"
# Started and stopped often by now: past systemd's start rate limit.
systemctl reset-failed feedwatch 2>/dev/null || true
systemctl start feedwatch
sleep 1
log | grep "Read-only file system" | tail -1 > /fwresult/readonly.txt
grep -q "remove state_dir from the config" /fwresult/readonly.txt || finish "FAIL: the service's error does not say what to do"
[ "$(grep -o "Read-only file system" /fwresult/readonly.txt | wc -l)" -eq 1 ] || finish "FAIL: the error text is printed twice"
systemctl stop feedwatch
finish PASS
EOF
chmod 755 "$work/opt/probe.sh"

cat > "$work/fw-probe.service" <<'EOF'
[Unit]
Description=feedwatch end-to-end probe
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/opt/fw/probe.sh
ExecStopPost=/bin/sh -c 'journalctl --no-pager -u fw-probe > /fwresult/probe-journal.txt 2>&1'
EOF

echo "booting a container that installs feedwatch.service as the README says…"
timeout 300 systemd-nspawn --quiet --volatile=yes --directory=/ --boot --register=no --keep-unit \
  --private-network --machine=feedwatch-test \
  --overlay=/usr::/usr \
  --tmpfs="$(dirname "$here")" --tmpfs="$HOME" \
  --overlay="$here::$here" \
  --overlay="$HOME/.cargo::$HOME/.cargo" \
  --bind-ro="$HOME/.rustup" \
  --bind-ro=/etc/ssl:/etc/ssl \
  --bind-ro="$work/opt:/opt/fw" \
  --bind="$work/result:/fwresult" \
  --bind-ro="$work/fw-probe.service:/etc/systemd/system/fw-probe.service" \
  --bind-ro=/dev/null:/etc/systemd/system/systemd-firstboot.service \
  --bind-ro=/dev/null:/etc/systemd/system/systemd-networkd-wait-online.service \
  -- --unit=fw-probe.service systemd.firstboot=off > "$work/console.txt" 2>&1 || true

result=$(cat "$work/result/result" 2>/dev/null || echo "FAIL: the probe did not report (see the console below)")
if [ "$result" != PASS ]; then
  echo "$result"
  for f in probe-journal.txt install.txt check.txt status.txt reload.txt digest.txt; do
    [ -s "$work/result/$f" ] && { echo "--- $f"; cat "$work/result/$f"; }
  done
  echo "--- journal of feedwatch.service"; cat "$work/result/journal.txt" 2>/dev/null || true
  echo "--- console (last 40 lines)"; tail -n 40 "$work/console.txt"
  exit 1
fi
echo "--- status after stop"; cat "$work/result/status.txt"
echo "--- stop took $(cat "$work/result/stop-ms.txt") ms"
echo "PASS: the README's install block works as written; the service started without a password file, polled, logged with priorities, showed its next poll, reloaded and refused a bad config visibly, used its credential (and root its source), named its host in the digest, told another user it may not read the state, warned of a config the service cannot read, let root's check/status/digest work with no prefix, stopped within seconds with a feed in flight, kept polling past hostile article pages, backed up beside the running service and restored keeping its owner, installed completions and man pages, and ran a second instance of the template unit beside the first with its own state"
