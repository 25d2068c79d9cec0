package systems

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"
)

// lineConn is a TCP connection to a server with a line-based text protocol (Redis, Memcached).
type lineConn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

// dialLine connects to addr.
func dialLine(ctx context.Context, addr string) (*lineConn, error) {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &lineConn{c: c, r: bufio.NewReader(c), w: bufio.NewWriter(c)}, nil
}

// deadline sets the connection's deadline to ctx's (none when ctx has none).
func (c *lineConn) deadline(ctx context.Context) {
	d, _ := ctx.Deadline()
	_ = c.c.SetDeadline(d)
}

// readLine reads one line without its "\r\n".
func (c *lineConn) readLine() (string, error) {
	s, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	s = s[:len(s)-1]
	if n := len(s); n > 0 && s[n-1] == '\r' {
		s = s[:n-1]
	}
	return s, nil
}

func (c *lineConn) Close() error { return c.c.Close() }

// perClient keeps one connection for each client, dialled on first use and again after a
// failure, as a connection pool does for a client that holds one connection at a time.
type perClient struct {
	addr  string
	mu    sync.Mutex
	conns map[int]*lineConn
}

func newPerClient(addr string) *perClient {
	return &perClient{addr: addr, conns: map[int]*lineConn{}}
}

// do runs f on client's connection, dialling it if needed; after an error the connection is
// closed, so that the next call dials a new one.
func (p *perClient) do(ctx context.Context, client int, f func(c *lineConn) error) error {
	p.mu.Lock()
	c := p.conns[client]
	p.mu.Unlock()
	if c == nil {
		var err error
		if c, err = dialLine(ctx, p.addr); err != nil {
			return err
		}
		p.mu.Lock()
		p.conns[client] = c
		p.mu.Unlock()
	}
	c.deadline(ctx)
	if err := f(c); err != nil {
		c.Close()
		p.mu.Lock()
		delete(p.conns, client)
		p.mu.Unlock()
		return err
	}
	return nil
}

// closeAll closes every connection.
func (p *perClient) closeAll() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, c := range p.conns {
		c.Close()
		delete(p.conns, k)
	}
}
