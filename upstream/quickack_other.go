//go:build !linux

package upstream

// Only Linux has TCP_QUICKACK; elsewhere connections are used as dialled.
const quickAckSupported = false

func setQuickAck(uintptr) {}
