package main

import (
	"net"
	"strings"
	"testing"
)

// TestCheckListenerLoopback: without authentication, the address actually bound must be a
// loopback one, whatever name --addr gave.
func TestCheckListenerLoopback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     Config
		bound   net.Addr
		refused bool
	}{
		{"IPv4 loopback", Config{Addr: "localhost:1"}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, false},
		{"IPv6 loopback", Config{Addr: "localhost:1"}, &net.TCPAddr{IP: net.IPv6loopback, Port: 1}, false},
		{"localhost resolved elsewhere", Config{Addr: "localhost:1"}, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 1}, true},
		{"every interface", Config{Addr: "localhost:1"}, &net.TCPAddr{IP: net.IPv4zero, Port: 1}, true},
		{"elsewhere with --insecure", Config{Addr: "localhost:1", Insecure: true}, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 1}, false},
		{"elsewhere with tokens", Config{Addr: "localhost:1", TokensFile: "t.json"}, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 1}, false},
		{"elsewhere with client certificates", Config{Addr: "localhost:1", ClientCA: "ca.pem"}, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkListenerLoopback(&tc.cfg, tc.bound)
			if (err != nil) != tc.refused {
				t.Fatalf("error %v, want refused=%v", err, tc.refused)
			}
			if err != nil && !strings.Contains(err.Error(), "--tokens-file") {
				t.Errorf("the refusal does not say what to do: %v", err)
			}
		})
	}
}
