#!/bin/sh
# Runs as root inside the appliance while Packer builds it: installs the package, sets up the first boot, then
# removes everything that must differ between appliances or that the build left behind.
set -eux

# As the README installs it; the package's maintainer scripts create the user and start the hardened service, which
# must come up here. Its dependencies are in the base image: nothing is downloaded.
apt-get install -y --no-install-recommends /tmp/flowcollector.deb
for attempt in $(seq 1 60); do
    curl -fsS http://127.0.0.1:9750/healthz && break
    sleep 2
done
systemctl is-active flowcollector.service

# First boot: the cloud-init seed's `flowcollector:` settings become the collector's configuration; without a seed,
# the consoles ask for an SSH key and the settings before they offer a login.
install -m 755 /tmp/flowcollector-appliance-setup /usr/lib/flowcollector/appliance-setup
install -m 644 /tmp/flowcollector-firstboot.service /tmp/flowcollector-console-setup@.service /etc/systemd/system/
systemctl enable flowcollector-firstboot.service flowcollector-console-setup@tty1.service flowcollector-console-setup@ttyS0.service

# ExaBGP is present with the package's sample in place, and off until the operator names a neighbour and enables it.
install -m 644 /usr/share/flowcollector/exabgp.conf /etc/exabgp/exabgp.conf
systemctl disable exabgp.service

# Clean: the build's state, identity, keys and logs.
systemctl stop flowcollector.service
find /var/lib/flowcollector -mindepth 1 -delete
rm -f /tmp/flowcollector.deb /tmp/flowcollector-appliance-setup /tmp/flowcollector-*.service
rm -f /etc/cloud/cloud-init.disabled
cloud-init clean --logs --seed
rm -f /etc/ssh/ssh_host_*
rm -rf /root/.ssh
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
rm -f /var/lib/systemd/random-seed
apt-get clean
rm -rf /var/lib/apt/lists/*
journalctl --rotate --vacuum-time=1s >/dev/null
find /var/log -type f \( -name '*.gz' -o -name '*.1' \) -delete
find /var/log -type f -exec truncate -s 0 {} +
fstrim -a || true
