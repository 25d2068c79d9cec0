package systems

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Memcached is memcached and its text protocol's "incr" on one key. It keeps nothing on disk:
// a restarted server starts empty. A client whose "incr" finds no key creates it with "add",
// as the usual incr-or-add idiom does.
type Memcached struct {
	addr  string
	proc  *process
	conns *perClient
}

// NewMemcached returns Memcached.
func NewMemcached() *Memcached { return &Memcached{} }

func (m *Memcached) Name() string { return "Memcached (memory)" }

const memcachedKey = "hot"

func (m *Memcached) Start(ctx context.Context, dir string) error {
	bin, err := lookPath("memcached")
	if err != nil {
		return missing("memcached", "memcached")
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-m", "64", "-c", "1024"}
	if _, u, err := unprivileged("memcache", "nobody"); err != nil {
		return err
	} else if u != nil {
		args = append(args, "-u", u.Username) // memcached drops root itself
	}
	m.addr = fmt.Sprintf("127.0.0.1:%d", port)
	m.conns = newPerClient(m.addr)
	m.proc = &process{
		name:   "memcached",
		log:    filepath.Join(dir, "memcached.log"),
		newCmd: func() *exec.Cmd { return exec.Command(bin, args...) },
	}
	if err := m.Restart(ctx); err != nil {
		return err
	}
	return m.conns.do(ctx, -1, func(c *lineConn) error {
		return c.memcached("STORED", "set %s 0 0 1\r\n0", memcachedKey)
	})
}

func (m *Memcached) Increment(ctx context.Context, client int, _ string) error {
	return m.conns.do(ctx, client, func(c *lineConn) error {
		for {
			fmt.Fprintf(c.w, "incr %s 1\r\n", memcachedKey)
			if err := c.w.Flush(); err != nil {
				return err
			}
			line, err := c.readLine()
			if err != nil {
				return err
			}
			if line != "NOT_FOUND" {
				if _, err := strconv.ParseUint(line, 10, 64); err != nil {
					return fmt.Errorf("memcached: incr answered %q", line)
				}
				return nil
			}
			// The key is gone (the server restarted): create it holding this increment. If
			// another client created it meanwhile, add answers NOT_STORED and incr goes again.
			fmt.Fprintf(c.w, "add %s 0 0 1\r\n1\r\n", memcachedKey)
			if err := c.w.Flush(); err != nil {
				return err
			}
			if line, err = c.readLine(); err != nil {
				return err
			}
			switch line {
			case "STORED":
				return nil
			case "NOT_STORED":
				continue
			default:
				return fmt.Errorf("memcached: add answered %q", line)
			}
		}
	})
}

func (m *Memcached) Value(ctx context.Context) (int64, error) {
	var v int64
	err := m.conns.do(ctx, -1, func(c *lineConn) error {
		fmt.Fprintf(c.w, "get %s\r\n", memcachedKey)
		if err := c.w.Flush(); err != nil {
			return err
		}
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if line == "END" { // no such key
			v = 0
			return nil
		}
		if !strings.HasPrefix(line, "VALUE ") {
			return fmt.Errorf("memcached: get answered %q", line)
		}
		data, err := c.readLine()
		if err != nil {
			return err
		}
		if v, err = strconv.ParseInt(strings.TrimSpace(data), 10, 64); err != nil {
			return err
		}
		if line, err = c.readLine(); err == nil && line != "END" {
			err = fmt.Errorf("memcached: get answered %q after the value", line)
		}
		return err
	})
	return v, err
}

func (m *Memcached) Kill() error { return m.proc.kill() }

func (m *Memcached) Restart(ctx context.Context) error {
	if err := m.proc.start(); err != nil {
		return err
	}
	return m.proc.waitReady(ctx, func(ctx context.Context) error {
		return m.conns.do(ctx, -1, func(c *lineConn) error {
			fmt.Fprintf(c.w, "version\r\n")
			if err := c.w.Flush(); err != nil {
				return err
			}
			line, err := c.readLine()
			if err == nil && !strings.HasPrefix(line, "VERSION") {
				err = fmt.Errorf("memcached: version answered %q", line)
			}
			return err
		})
	})
}

func (m *Memcached) Stop() error {
	m.conns.closeAll()
	return m.proc.shutdown()
}

// memcached sends one command line (format, args; a storage command's data follows after
// "\r\n" in format) and checks that the answer is want.
func (c *lineConn) memcached(want, format string, args ...any) error {
	fmt.Fprintf(c.w, format+"\r\n", args...)
	if err := c.w.Flush(); err != nil {
		return err
	}
	line, err := c.readLine()
	if err == nil && line != want {
		err = fmt.Errorf("memcached: answered %q, want %q", line, want)
	}
	return err
}
