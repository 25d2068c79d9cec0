// Package testnet holds network stand-ins for tests: peers that misbehave in ways a real server
// or collector can, on loopback addresses.
package testnet

import (
	"net"
	"sync"
	"testing"
)

// SilentListener accepts connections on a loopback address and never reads or writes on them, as
// a collector that hangs does; the listener and its connections are closed when the test ends.
func SilentListener(t testing.TB) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = lis.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return lis
}
