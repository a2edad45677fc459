//go:build !linux

package app

import (
	"net"
	"os"
)

// peerUID: no portable peer check here, so the socket's file mode and the data
// directory's alone decide.
func peerUID(net.Conn) (int, bool) { return os.Getuid(), true }
