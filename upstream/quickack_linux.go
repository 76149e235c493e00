//go:build linux

package upstream

import "golang.org/x/sys/unix"

const quickAckSupported = true

func setQuickAck(fd uintptr) {
	unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
}
