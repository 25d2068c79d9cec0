package eventlog

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func openT(t *testing.T, path string) *Log {
	t.Helper()
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func add(t *testing.T, l *Log, want int64) {
	t.Helper()
	if v, err := l.Add(); err != nil || v != want {
		t.Fatalf("Add = %d, %v; want %d", v, err, want)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestAddIsDurableAndReopens(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "counter.log")
	l := openT(t, path)
	if v := l.Value(); v != 0 {
		t.Fatalf("new log = %d, want 0", v)
	}
	for want := int64(1); want <= 3; want++ {
		add(t, l, want)
	}
	if v := l.Value(); v != 3 {
		t.Fatalf("Value = %d, want 3", v)
	}
	if size := fileSize(t, path); size != 3*recordSize {
		t.Errorf("file of %d bytes, want 3 records of %d", size, recordSize)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Add(); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close = %v, want ErrClosed", err)
	}
	again := openT(t, path)
	defer again.Close()
	if v := again.Value(); v != 3 {
		t.Fatalf("reopened = %d, want 3", v)
	}
	add(t, again, 4)
}

// A crash in the middle of a write leaves a torn last record: opening cuts it off, and the log
// goes on from the whole records.
func TestOpenCutsTornLastRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tail []byte
	}{
		{"part of a record", appendRecord(nil, 4)[:5]},
		{"a record with a bad checksum", func() []byte { r := appendRecord(nil, 4); r[11] ^= 1; return r }()},
		{"a record with the wrong number", appendRecord(nil, 9)},
		{"zeros", make([]byte, recordSize+3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "counter.log")
			l := openT(t, path)
			for want := int64(1); want <= 3; want++ {
				add(t, l, want)
			}
			l.Close()
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(tc.tail); err != nil {
				t.Fatal(err)
			}
			f.Close()

			l = openT(t, path)
			if v := l.Value(); v != 3 {
				t.Fatalf("value after a torn record = %d, want 3", v)
			}
			if size := fileSize(t, path); size != 3*recordSize {
				t.Errorf("file of %d bytes after recovery, want the 3 whole records", size)
			}
			add(t, l, 4)
			l.Close()
			l = openT(t, path)
			defer l.Close()
			if v := l.Value(); v != 4 {
				t.Fatalf("reopened after recovery = %d, want 4", v)
			}
		})
	}
}

// Appending damages only the end: a bad record followed by whole ones is refused, not cut off
// with them.
func TestOpenRefusesDamageBeforeWholeRecords(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "counter.log")
	l := openT(t, path)
	for want := int64(1); want <= 4; want++ {
		add(t, l, want)
	}
	l.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[recordSize+3] ^= 0xff // record 2
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if l, err := Open(path); err == nil || !strings.Contains(err.Error(), "record 2 is damaged but record 3 after it is whole") {
		if l != nil {
			l.Close()
		}
		t.Fatalf("Open of a damaged log = %v, want an error naming records 2 and 3", err)
	}
}

// While one flush is under way, the Adds that arrive wait and share the next one.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	const waiting = 10
	path := filepath.Join(t.TempDir(), "counter.log")
	var syncs atomic.Int64
	inFirst, release := make(chan struct{}), make(chan struct{})
	l, err := open(path, func(f *os.File) error {
		if syncs.Add(1) == 1 {
			close(inFirst)
			<-release
		}
		return fdatasync(f)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var queued sync.WaitGroup
	l.queued = queued.Done

	values := make(chan int64, waiting+1)
	var adds sync.WaitGroup
	addAsync := func() {
		queued.Add(1)
		adds.Go(func() {
			v, err := l.Add()
			if err != nil {
				t.Error(err)
			}
			values <- v
		})
	}
	addAsync()
	<-inFirst // the first Add's flush is under way
	for range waiting {
		addAsync()
	}
	queued.Wait() // every Add has joined the queue
	close(release)
	adds.Wait()
	close(values)

	if n := syncs.Load(); n != 2 {
		t.Errorf("%d flushes for 1 Add and %d that waited for it, want 2", n, waiting)
	}
	got := slices.Sorted(func(yield func(int64) bool) {
		for v := range values {
			if !yield(v) {
				return
			}
		}
	})
	want := make([]int64, waiting+1)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the Adds answered %v, want each of 1..%d once", got, waiting+1)
	}
	if v := l.Value(); v != waiting+1 {
		t.Errorf("Value = %d, want %d", v, waiting+1)
	}
}

// After a failed flush the file's content is unknown: that Add and every later one fail, and
// the value stays at what was durable.
func TestFailedFlushFailsLaterAdds(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "counter.log")
	broken := errors.New("the disk broke")
	var fail atomic.Bool
	l, err := open(path, func(f *os.File) error {
		if fail.Load() {
			return broken
		}
		return fdatasync(f)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	add(t, l, 1)
	fail.Store(true)
	for range 2 {
		if _, err := l.Add(); !errors.Is(err, broken) {
			t.Fatalf("Add after a failed flush = %v, want %v", err, broken)
		}
	}
	fail.Store(false)
	if _, err := l.Add(); !errors.Is(err, broken) {
		t.Fatalf("Add once flushes work again = %v, want still %v", err, broken)
	}
	if v := l.Value(); v != 1 {
		t.Errorf("Value = %d, want the 1 durable record", v)
	}
}

func TestConcurrentAdds(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "counter.log")
	l := openT(t, path)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := l.Add(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	l.Close()
	l = openT(t, path)
	defer l.Close()
	if v := l.Value(); v != 160 {
		t.Fatalf("value = %d, want 160", v)
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	l := openT(t, filepath.Join(t.TempDir(), "counter.log"))
	defer l.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- Serve(l, lis) }()

	ask := func(c net.Conn, r *bufio.Reader, req string) string {
		t.Helper()
		if _, err := fmt.Fprintf(c, "%s\n", req); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(line, "\n")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c, err := net.Dial("tcp", lis.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			r := bufio.NewReader(c)
			for range 10 {
				if _, err := fmt.Sscan(ask(c, r, "inc"), new(int64)); err != nil {
					t.Errorf("inc: %v", err)
				}
			}
		})
	}
	wg.Wait()
	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got := ask(c, r, "get"); got != "40" {
		t.Errorf("get = %q, want 40", got)
	}
	if got := ask(c, r, "bogus"); got != `error: unknown request "bogus"` {
		t.Errorf("bogus = %q, want an error", got)
	}
	if got := ask(c, r, "inc"); got != "41" {
		t.Errorf("inc = %q, want 41", got)
	}
	c.Close()
	lis.Close()
	if err := <-served; err != nil {
		t.Errorf("Serve = %v after its listener closed, want nil", err)
	}
}
