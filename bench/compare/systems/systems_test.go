package systems

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/tally-dev/tally/bench/compare/eventlog"
	"github.com/tally-dev/tally/bench/compare/jsonfile"
)

// TestMain makes the test binary the JSON file's writer process, or the event log's server
// process, when asked.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "jsonfile-writer":
			os.Exit(jsonfile.Main(os.Args[2:]))
		case "eventlog-server":
			os.Exit(eventlog.Main(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

// TestSystems runs each store through Start, Increment, Kill, Restart, Value and Stop. A store
// whose Debian package is not installed is skipped: bench/compare.sh installs them. Opt-in, like
// the comparison itself (TALLY_COMPARE_SYSTEMS=1): it starts every server and takes a minute.
func TestSystems(t *testing.T) {
	if os.Getenv("TALLY_COMPARE_SYSTEMS") == "" {
		t.Skip("starts Redis, PostgreSQL, SQLite, Memcached, tallyd and the file stores' processes; set TALLY_COMPARE_SYSTEMS=1 to run")
	}
	var tallyd string
	for _, c := range []struct {
		sys     func() System
		durable bool
	}{
		{func() System { return NewTallyd(tallyd, true) }, true},
		{func() System { return NewRedis("always") }, true},
		{func() System { return NewRedis("everysec") }, true},
		{func() System { return NewPostgres(1) }, true},
		{func() System { return NewPostgres(4) }, true},
		{func() System { return NewSQLite() }, true},
		{func() System { return NewJSONFile(os.Args[0], "jsonfile-writer") }, true},
		{func() System { return NewEventLog(os.Args[0], "eventlog-server") }, true},
		{func() System { return NewMemcached() }, false},
	} {
		sys := c.sys()
		t.Run(sys.Name(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if _, ok := sys.(*Tallyd); ok {
				if testing.Short() {
					t.Skip("builds tallyd; skipped with -short")
				}
				if tallyd == "" {
					var err error
					if tallyd, err = BuildTallyd(ctx, t.TempDir()); err != nil {
						t.Fatal(err)
					}
				}
				sys = c.sys()
			}
			dir := t.TempDir()
			err := sys.Start(ctx, dir)
			t.Cleanup(func() {
				if err := sys.Stop(); err != nil {
					t.Errorf("Stop: %v", err)
				}
			})
			if errors.Is(err, ErrMissing) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			expect := func(want int64) {
				t.Helper()
				if v, err := sys.Value(ctx); err != nil || v != want {
					t.Fatalf("Value = %d, %v; want %d", v, err, want)
				}
			}
			expect(0)
			for i, client := range []int{0, 1, 0} {
				if err := sys.Increment(ctx, client, "id-"+string(rune('a'+i))); err != nil {
					t.Fatalf("Increment: %v", err)
				}
			}
			expect(3)
			if td, ok := sys.(*Tallyd); ok && td.Keys {
				if err := sys.Increment(ctx, 1, "id-a"); err != nil {
					t.Fatalf("Increment repeating a key: %v", err)
				}
				expect(3) // applied once per key
			}
			if err := sys.Kill(); err != nil {
				t.Fatal(err)
			}
			short, cancelShort := context.WithTimeout(ctx, time.Second)
			if err := sys.Increment(short, 0, "id-d"); err == nil {
				t.Error("Increment succeeded while the server was killed")
			}
			cancelShort()
			if err := sys.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			after := int64(3)
			if !c.durable {
				after = 0
			}
			// Once up again, a client whose connection was cut gets through within a few tries.
			var incErr error
			for range 50 {
				if incErr = sys.Increment(ctx, 0, "id-e"); incErr == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if incErr != nil {
				t.Fatalf("Increment after the restart: %v", incErr)
			}
			expect(after + 1)
		})
	}
}
