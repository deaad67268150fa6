#!/usr/bin/env bash
# mmdebstrap's customize hook: the appliance's system settings, written into the new root ($1).
set -euo pipefail
root="$1"

echo flowcollector >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tflowcollector\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
printf 'UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n' "$ROOT_UUID" >"$root/etc/fstab"

# Every Ethernet interface asks DHCP (IPv4 and IPv6 router advertisements); cloud-init leaves the network alone.
install -d "$root/etc/systemd/network"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\nIPv6AcceptRA=yes\n' >"$root/etc/systemd/network/80-ethernet.network"
chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1

# cloud-init reads a NoCloud seed (a CIDATA disk) only; without one it configures nothing.
install -d "$root/etc/cloud/cloud.cfg.d"
cat >"$root/etc/cloud/cloud.cfg.d/90-flowcollector.cfg" <<'CFG'
datasource_list: [ NoCloud, None ]
network: {config: disabled}
ssh_pwauth: false
disable_root: true
# The seed's hostname goes into /etc/hosts too (sudo resolves it); the image carries no locales to generate.
manage_etc_hosts: true
locale: false
CFG

# Host keys are made at the first boot, so that no two appliances share them (cloud-init makes them too; this
# covers a boot without cloud-init).
install -d "$root/etc/systemd/system/ssh.service.d"
printf '[Service]\nExecStartPre=/usr/bin/ssh-keygen -A\n' >"$root/etc/systemd/system/ssh.service.d/host-keys.conf"

# The listeners' sockets ask for 32 MiB receive buffers (Listeners:ReceiveBufferBytes); the kernel caps them at
# rmem_max. A burst of exports must not be dropped by a backlog made for a desktop.
cat >"$root/etc/sysctl.d/60-flowcollector.conf" <<'CFG'
net.core.rmem_max = 33554432
net.core.rmem_default = 4194304
net.core.netdev_max_backlog = 16384
CFG

# The journal is bounded on the appliance's small disk.
install -d "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=persistent\nSystemMaxUse=256M\nSystemKeepFree=512M\nMaxRetentionSec=1month\n' \
    >"$root/etc/systemd/journald.conf.d/60-flowcollector.conf"

# Packer's one login; its clean-up removes the key.
install -d -m 700 "$root/root/.ssh"
install -m 600 "$BUILD_KEY" "$root/root/.ssh/authorized_keys"

# cloud-init stays off while Packer provisions (it would lock root's key away); provisioning turns it on.
touch "$root/etc/cloud/cloud-init.disabled"
