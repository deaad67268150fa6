# The FlowCollector appliance: the base image (appliance/base) booted under qemu, the Debian package installed,
# first boot from the cloud-init seed set up, and everything that must differ between appliances cleaned.
# Packer 1.6.6 (Debian's): HCL2, the qemu builder built in, software emulation where there is no KVM.

variable "base_image" {
  type = string
}

variable "package" {
  type = string
}

variable "version" {
  type = string
}

variable "output_directory" {
  type = string
}

variable "ssh_private_key_file" {
  type = string
}

variable "accelerator" {
  type    = string
  default = "tcg"
}

source "qemu" "appliance" {
  disk_image           = true
  iso_url              = var.base_image
  iso_checksum         = "none"
  use_backing_file     = false
  disk_size            = "3072M"
  format               = "qcow2"
  disk_compression     = true
  accelerator          = var.accelerator
  headless             = true
  cpus                 = 2
  memory               = 1536
  disk_interface       = "virtio"
  net_device           = "virtio-net"
  output_directory     = var.output_directory
  vm_name              = "flowcollector-${var.version}-amd64.qcow2"
  communicator         = "ssh"
  ssh_username         = "root"
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "30m"
  shutdown_command     = "systemctl poweroff"
  shutdown_timeout     = "10m"
  qemuargs             = [["-serial", "file:${var.output_directory}.console.log"]]
}

build {
  sources = ["source.qemu.appliance"]

  provisioner "file" {
    source      = var.package
    destination = "/tmp/flowcollector.deb"
  }

  provisioner "file" {
    source      = "${path.root}/../files/"
    destination = "/tmp"
  }

  provisioner "shell" {
    script = "${path.root}/provision.sh"
  }
}
