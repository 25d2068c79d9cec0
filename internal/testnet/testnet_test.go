package testnet

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestSilentListenerNeverAnswers: a connection is accepted, and a read on it gets nothing until
// its deadline.
func TestSilentListenerNeverAnswers(t *testing.T) {
	t.Parallel()
	lis := SilentListener(t)
	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	// A deadline is the only way to see that nothing comes back.
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d bytes, %v; want nothing until the deadline", n, err)
	}
}
