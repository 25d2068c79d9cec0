// Package eventlog is the event-log strategy for a durable counter: one process appends a record
// per increment to a log file and acknowledges the increment once its record is on disk (write,
// then fdatasync). The value is the number of records; opening the log reads it and cuts off a
// torn last record, which a crash in the middle of a write leaves behind.
//
// Recovery assumes what the comparison does to it, a process killed: the file then holds a
// prefix of what was written. A power cut during a batch's write can leave a damaged record
// before whole ones of the same unacknowledged batch; opening refuses such a log rather than
// guess where the batch began (records carry no batch boundaries).
//
// Increments that arrive while a write and its fdatasync are under way wait for the next one and
// share it (group commit), as a careful implementation lets concurrent callers share one flush
// rather than queue for a flush each. Serve answers a line protocol on every connection of a
// listener, which makes it the server process of the comparison.
package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// A record is a sequence number (1, 2, ...: the counter's value once the record is written) and
// a checksum of it, both big-endian. A record with the wrong number or checksum is torn.
const recordSize = 12

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendRecord(b []byte, seq int64) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[len(b)-8:], castagnoli))
}

// validRecord reports whether r is record number seq.
func validRecord(r []byte, seq int64) bool {
	return len(r) == recordSize && binary.BigEndian.Uint64(r) == uint64(seq) &&
		binary.BigEndian.Uint32(r[8:]) == crc32.Checksum(r[:8], castagnoli)
}

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("event log closed")

// Log is a counter kept as an append-only log of its increments. It is safe for concurrent use.
type Log struct {
	f *os.File
	// syncFile makes the file's written data durable: fdatasync, or a test's stand-in.
	syncFile func(*os.File) error
	// queued, when set, is called each time an Add has joined the queue (for tests).
	queued func()

	mu     sync.Mutex
	wake   *sync.Cond // signalled when the queue gains an Add or the log closes
	value  int64      // records durable
	queue  []chan result
	err    error // a failed write or flush: the file's state is unknown, so every later Add fails
	closed bool
	done   chan struct{} // closed when the committer has stopped
}

type result struct {
	value int64
	err   error
}

// fdatasync flushes f's data and the metadata needed to read it (its size) to the disk.
func fdatasync(f *os.File) error {
	return os.NewSyscallError("fdatasync", syscall.Fdatasync(int(f.Fd())))
}

// Open opens the log in path, creating it when it does not exist, recovers its value and starts
// its committer.
func Open(path string) (*Log, error) {
	return open(path, fdatasync)
}

func open(path string, syncFile func(*os.File) error) (*Log, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// The new file's name must be durable before a record in it is acknowledged.
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, err
		}
	}
	value, err := recoverValue(f, syncFile)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	l := &Log{f: f, syncFile: syncFile, value: value, done: make(chan struct{})}
	l.wake = sync.NewCond(&l.mu)
	go l.commit()
	return l, nil
}

// recoverValue reads the records of f and returns their number, leaving f's offset at its end.
// A torn last record is cut off (and the cut made durable); a bad record followed by good ones
// is corruption that appending cannot cause, and an error.
func recoverValue(f *os.File, syncFile func(*os.File) error) (int64, error) {
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	n := int64(0)
	for len(b) >= recordSize*int(n+1) && validRecord(b[recordSize*n:recordSize*(n+1)], n+1) {
		n++
	}
	good := recordSize * n
	if int64(len(b)) > good {
		for at := good + recordSize; at+recordSize <= int64(len(b)); at += recordSize {
			if seq := int64(binary.BigEndian.Uint64(b[at:])); seq > n+1 && validRecord(b[at:at+recordSize], seq) {
				return 0, fmt.Errorf("record %d is damaged but record %d after it is whole", n+1, seq)
			}
		}
		if err := f.Truncate(good); err != nil {
			return 0, err
		}
		if err := syncFile(f); err != nil {
			return 0, err
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return 0, err
	}
	return n, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Value returns the number of durable records: the acknowledged increments, and on a reopened
// log those that were written before a crash, acknowledged or not.
func (l *Log) Value() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.value
}

// Add appends one record and returns the counter's value with it once the record is durable.
func (l *Log) Add() (int64, error) {
	done := make(chan result, 1)
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return 0, ErrClosed
	case l.err != nil:
		err := l.err
		l.mu.Unlock()
		return 0, err
	}
	l.queue = append(l.queue, done)
	l.wake.Signal()
	l.mu.Unlock()
	if l.queued != nil {
		l.queued()
	}
	r := <-done
	return r.value, r.err
}

// commit writes the queued records, all of them with one write and one fdatasync, answers their
// Adds, and starts again with those that queued meanwhile.
func (l *Log) commit() {
	defer close(l.done)
	var buf []byte
	for {
		l.mu.Lock()
		for len(l.queue) == 0 && !l.closed {
			l.wake.Wait()
		}
		batch, first, failed := l.queue, l.value+1, l.err
		l.queue = nil
		if len(batch) == 0 { // closed
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()

		err := failed
		if err == nil {
			buf = buf[:0]
			for i := range batch {
				buf = appendRecord(buf, first+int64(i))
			}
			if _, err = l.f.Write(buf); err == nil {
				err = l.syncFile(l.f)
			}
		}
		l.mu.Lock()
		if err == nil {
			l.value += int64(len(batch))
		} else {
			l.err = err
		}
		l.mu.Unlock()
		for i, done := range batch {
			done <- result{value: first + int64(i), err: err}
		}
	}
}

// Close answers the Adds queued, stops the committer and closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	l.closed = true
	l.wake.Signal()
	l.mu.Unlock()
	<-l.done
	return l.f.Close()
}
