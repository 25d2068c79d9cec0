package emulator

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// connMux shares one listener between the native gRPC server and an HTTP server (the control
// endpoints), as Google's emulator serves both on one port. It looks at the start of each
// connection once:
//   - HTTP/1.x goes to the HTTP server;
//   - HTTP/2 with prior knowledge whose first request is gRPC goes to the gRPC server, which then
//     serves the connection natively (grpc.Server.ServeHTTP is much slower);
//   - HTTP/2 whose first request is anything else goes to the HTTP server (h2c), whose handler
//     passes later gRPC requests on that connection to grpc.Server.ServeHTTP.
//
// gRPC clients send no request before the server's SETTINGS frame arrives, so the mux sends an
// empty SETTINGS frame itself while it waits for the first HEADERS frame; the client's
// acknowledgement of it is removed from what the chosen server reads.
type connMux struct {
	base net.Listener
	grpc *chanListener
	http *chanListener

	mu      sync.Mutex
	closed  bool
	pending map[net.Conn]struct{} // connections not yet classified
	wg      sync.WaitGroup
}

func newConnMux(base net.Listener) *connMux {
	m := &connMux{
		base:    base,
		grpc:    newChanListener(base.Addr()),
		http:    newChanListener(base.Addr()),
		pending: map[net.Conn]struct{}{},
	}
	m.wg.Add(1)
	go m.acceptLoop()
	return m
}

func (m *connMux) acceptLoop() {
	defer m.wg.Done()
	backoff := time.Duration(0)
	for {
		c, err := m.base.Accept()
		if err != nil {
			if !retryable(err) {
				return // closed (or broken: the emulator then serves the connections it has)
			}
			// Out of file descriptors, say: wait for some to be released, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			_ = c.Close()
			return
		}
		m.pending[c] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		go m.classify(c)
	}
}

// retryable reports an Accept error that passes: a timeout, a connection aborted before it was
// accepted, or too many open files.
func retryable(err error) bool {
	var ne net.Error
	return (errors.As(err, &ne) && ne.Timeout()) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// close stops accepting and closes the connections not yet handed to a server; the servers
// close their own.
func (m *connMux) close() {
	m.mu.Lock()
	m.closed = true
	for c := range m.pending {
		_ = c.Close()
	}
	m.mu.Unlock()
	_ = m.base.Close()
	m.wg.Wait()
}

// maxSniffBytes bounds what a connection may send before its first request.
const maxSniffBytes = 1 << 20

func (m *connMux) classify(c net.Conn) {
	defer m.wg.Done()
	target, conn := m.sniff(c)
	m.mu.Lock()
	delete(m.pending, c)
	closed := m.closed
	m.mu.Unlock()
	if target == nil || closed || !target.deliver(conn) {
		_ = c.Close()
	}
}

// sniff reads the start of c and returns the listener it belongs to with a connection that
// replays what was read; a nil listener when c failed or sent nonsense.
func (m *connMux) sniff(c net.Conn) (*chanListener, net.Conn) {
	preface := []byte(http2.ClientPreface)
	var seen []byte
	buf := make([]byte, len(preface))
	for len(seen) < len(preface) {
		n, err := c.Read(buf[:len(preface)-len(seen)])
		seen = append(seen, buf[:n]...)
		if !bytes.HasPrefix(preface, seen) {
			return m.http, replay(c, seen, false) // HTTP/1.x
		}
		if err != nil {
			return nil, nil
		}
	}
	// HTTP/2 with prior knowledge: answer with an empty SETTINGS frame so that gRPC clients
	// send their first request, then read frames up to the first HEADERS.
	if _, err := c.Write([]byte{0, 0, 0, byte(http2.FrameSettings), 0, 0, 0, 0, 0}); err != nil {
		return nil, nil
	}
	rec := &recorder{r: c}
	fr := http2.NewFramer(nil, rec)
	fr.SetMaxReadFrameSize(16 << 10) // the default, which the mux's empty SETTINGS leaves
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	kept := append([]byte(nil), seen...)
	acked := false
	for len(kept) < maxSniffBytes {
		rec.buf = rec.buf[:0]
		f, err := fr.ReadFrame()
		if err != nil {
			return nil, nil
		}
		if s, ok := f.(*http2.SettingsFrame); ok && s.IsAck() && !acked {
			acked = true // the acknowledgement of the mux's SETTINGS, which no server sent
			continue
		}
		kept = append(kept, rec.buf...)
		h, ok := f.(*http2.MetaHeadersFrame)
		if !ok {
			continue
		}
		if isGRPC(h) {
			return m.grpc, replay(c, kept, false) // gRPC ignores an unexpected acknowledgement
		}
		return m.http, replay(c, kept, !acked)
	}
	return nil, nil
}

func isGRPC(h *http2.MetaHeadersFrame) bool {
	for _, f := range h.RegularFields() {
		if f.Name == "content-type" {
			return strings.HasPrefix(f.Value, "application/grpc")
		}
	}
	return false
}

// recorder keeps the bytes read through it since buf was last emptied.
type recorder struct {
	r   io.Reader
	buf []byte
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

// replay returns c reading prefix first. With dropAck, the first SETTINGS acknowledgement after
// the prefix is removed from the stream (the mux's SETTINGS, acknowledged after the prefix).
func replay(c net.Conn, prefix []byte, dropAck bool) net.Conn {
	var rest io.Reader = c
	if dropAck {
		rest = &ackFilter{r: c}
	}
	return &replayConn{Conn: c, r: io.MultiReader(bytes.NewReader(prefix), rest)}
}

type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// ackFilter passes HTTP/2 frames through, but for the first SETTINGS acknowledgement; after it,
// it passes bytes through without looking at them.
type ackFilter struct {
	r       io.Reader
	done    bool
	pending []byte
}

func (f *ackFilter) Read(p []byte) (int, error) {
	for len(f.pending) == 0 {
		if f.done {
			return f.r.Read(p)
		}
		var hdr [9]byte
		if _, err := io.ReadFull(f.r, hdr[:]); err != nil {
			return 0, err
		}
		length := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		if http2.FrameType(hdr[3]) == http2.FrameSettings && http2.Flags(hdr[4]).Has(http2.FlagSettingsAck) && length == 0 {
			f.done = true
			continue
		}
		frame := make([]byte, 9+length)
		copy(frame, hdr[:])
		if _, err := io.ReadFull(f.r, frame[9:]); err != nil {
			return 0, err
		}
		f.pending = frame
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// chanListener is a net.Listener fed with connections by the mux. Closing it (as the server
// serving it does on shutdown) does not close the mux's listener.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// deliver hands c to the listener's server; false once the listener is closed.
func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
