package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestKeepaliveEnforcement speaks HTTP/2 to tallyd's gRPC server directly, as no gRPC client
// pings more often than every ten seconds: pings further apart than --keepalive-min-time are
// answered even on a connection without calls, and a client pinging faster is sent GOAWAY
// ENHANCE_YOUR_CALM. (gRPC's defaults, a five-minute minimum and no pings without calls, would
// refuse the first.)
func TestKeepaliveEnforcement(t *testing.T) {
	t.Parallel()
	cfg, err := parseConfig([]string{"--keepalive-min-time", "1s"}, envMap(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	gs := newGRPCServer(cfg, newLimiter(cfg.MaxConcurrentCalls, nil), &openCalls{})
	healthpb.RegisterHealthServer(gs, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)

	t.Run("pings a little further apart than the minimum", func(t *testing.T) {
		t.Parallel()
		fr := http2Conn(t, lis.Addr().String())
		// gRPC sends GOAWAY after acknowledging the third ping that came too soon: four pings,
		// and a fifth at once that finds a GOAWAY queued after the fourth's acknowledgement, show
		// that none did (the fifth alone is one too soon, which is allowed).
		for i := range 5 {
			if i > 0 && i < 4 {
				time.Sleep(1200 * time.Millisecond) // the client's ping interval, not a wait for the server
			}
			if err := ping(fr, byte(i)); err != nil {
				t.Fatalf("ping %d: %v", i, err)
			}
		}
	})
	t.Run("pings in a burst", func(t *testing.T) {
		t.Parallel()
		fr := http2Conn(t, lis.Addr().String())
		var err error
		for i := 0; i < 10 && err == nil; i++ {
			err = ping(fr, byte(i))
		}
		goAway, ok := err.(goAwayError)
		if !ok || goAway.code != http2.ErrCodeEnhanceYourCalm {
			t.Fatalf("ten pings at once: %v, want GOAWAY ENHANCE_YOUR_CALM", err)
		}
	})
}

// http2Conn opens an HTTP/2 connection to addr and exchanges settings.
func http2Conn(t *testing.T, addr string) *http2.Framer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading the server's settings: %v", err)
		}
		if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
			if err := fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
			return fr
		}
	}
}

// goAwayError is a GOAWAY the server sent.
type goAwayError struct {
	code  http2.ErrCode
	debug string
}

func (e goAwayError) Error() string { return fmt.Sprintf("GOAWAY %v %q", e.code, e.debug) }

// ping sends a ping and waits for its acknowledgement; a GOAWAY instead is a goAwayError.
func ping(fr *http2.Framer, n byte) error {
	data := [8]byte{n}
	if err := fr.WritePing(false, data); err != nil {
		return err
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return err
		}
		switch f := f.(type) {
		case *http2.PingFrame:
			if f.IsAck() && bytes.Equal(f.Data[:], data[:]) {
				return nil
			}
		case *http2.GoAwayFrame:
			return goAwayError{code: f.ErrCode, debug: string(f.DebugData())}
		}
	}
}
