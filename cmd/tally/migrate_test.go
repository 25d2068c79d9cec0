package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tally-dev/tally/internal/testproc"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// startTallyd starts the tallyd binary on a free loopback port with args
// and env (KEY=value) and returns once it serves. The variables that choose
// tallyd's configuration are taken from env only, not from the test's
// environment, and the admin listener is off: tests running at the same time
// would want its fixed port.
func startTallyd(t *testing.T, bin string, env []string, args ...string) *testproc.Process {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--addr", "127.0.0.1:0", "--log-level", "warn"}, args...)...)
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(key, "TALLY_"), key == "FIRESTORE_EMULATOR_HOST", key == "GOOGLE_CLOUD_PROJECT", key == "PORT", key == "K_SERVICE":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(append(cmd.Env, "TALLY_ADMIN_ADDR="), env...)
	return testproc.StartServing(t, "tallyd "+strings.Join(args, " "), cmd, func(line string) (string, bool) {
		return strings.CutPrefix(line, "tallyd serving on ")
	})
}

// deployedIndexes are the indexes the Terraform module deploys, which an
// external emulator is given as production has them: it refuses a query
// that needs an index nobody declared.
const deployedIndexes = "../../terraform/modules/tally/firestore.indexes.json"

func apiClient(t *testing.T, addr string) tallyv1.CounterServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return tallyv1.NewCounterServiceClient(conn)
}

// counterState is what an export carries of a counter.
type counterState struct {
	shards int32
	value  int64
}

// counters lists every counter of the server with its value.
func counters(t *testing.T, c tallyv1.CounterServiceClient) map[string]counterState {
	t.Helper()
	got := map[string]counterState{}
	req := &tallyv1.ListCountersRequest{View: tallyv1.CounterView_COUNTER_VIEW_FULL, PageSize: 3} // several pages
	for {
		resp, err := c.ListCounters(context.Background(), req)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, ctr := range resp.GetCounters() {
			got[strings.TrimPrefix(ctr.GetName(), namePrefix)] = counterState{ctr.GetShardCount(), ctr.GetValue()}
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			return got
		}
	}
}

func checkCounters(t *testing.T, where string, got, want map[string]counterState) {
	t.Helper()
	for id, w := range want {
		if g, ok := got[id]; !ok {
			t.Errorf("%s: counter %q missing, want %+v", where, id, w)
		} else if g != w {
			t.Errorf("%s: counter %q = %+v, want %+v", where, id, g, w)
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("%s: unexpected counter %q = %+v", where, id, g)
		}
	}
}

func makeCounter(t *testing.T, c tallyv1.CounterServiceClient, id string, s counterState) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: id, Counter: &tallyv1.Counter{ShardCount: s.shards}}); err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	if s.value != 0 {
		if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: namePrefix + id, Delta: s.value}); err != nil {
			t.Fatalf("increment %s: %v", id, err)
		}
	}
}

// tallyOK runs the CLI in-process and fails the test unless it succeeds.
func tallyOK(t *testing.T, stdin string, args ...string) outcome {
	t.Helper()
	got := runTallyWith(context.Background(), nil, stdin, args...)
	if got.code != exitOK {
		t.Fatalf("tally %s: exit code %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got.code, got.stdout, got.stderr)
	}
	return got
}

// exportID reads the id of the export in file.
func exportID(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ex, err := readExport(f, file)
	if err != nil {
		t.Fatal(err)
	}
	return ex.header.ExportID
}

// TestMigrateBetweenStorageModes moves counters between tallyd with
// embedded storage and tallyd storing in an external emulator, the way a
// user moves from one machine to Firestore: export, import, and the
// interrupted import finished by running it again.
func TestMigrateBetweenStorageModes(t *testing.T) {
	t.Parallel()
	bins := testproc.Build(t, testproc.Tallyd, testproc.Emulator)
	em := testproc.StartEmulator(t, bins[1], "--in-memory", "--host", "127.0.0.1", "--port", "0", "--indexes", deployedIndexes)
	embedded := startTallyd(t, bins[0], nil, "--storage", "embedded", "--data-dir", t.TempDir())
	emulated := startTallyd(t, bins[0], []string{"FIRESTORE_EMULATOR_HOST=" + em.Addr, "GOOGLE_CLOUD_PROJECT=tally-migrate"}, "--storage", "emulator")
	second := startTallyd(t, bins[0], nil, "--storage", "embedded", "--data-dir", t.TempDir())
	src, dst, dst2 := apiClient(t, embedded.Addr), apiClient(t, emulated.Addr), apiClient(t, second.Addr)

	// In the order ListCounters returns them.
	ids := []string{"a-zero", "b-neg", "c-max", "d-min", "e-big", "f-one", "g-unicode-✓", "h-many"}
	want := map[string]counterState{
		"a-zero":      {1, 0},
		"b-neg":       {3, -42},
		"c-max":       {16, math.MaxInt64},
		"d-min":       {7, math.MinInt64},
		"e-big":       {1000, 1<<53 + 1}, // not a float64
		"f-one":       {2, 1},
		"g-unicode-✓": {5, -(1<<53 + 3)},
		"h-many":      {64, 12345},
	}
	for _, id := range ids {
		makeCounter(t, src, id, want[id])
	}
	checkCounters(t, "source", counters(t, src), want)

	dir := t.TempDir()
	file := filepath.Join(dir, "counters.jsonl")
	got := tallyOK(t, "", "--addr", embedded.Addr, "export", "-o", file)
	id := exportID(t, file)
	if want := fmt.Sprintf("tally: exported 8 counters to %s (export %s)\n", file, id); got.stderr != want || got.stdout != "" {
		t.Errorf("export printed %q on stdout and %q on stderr, want %q on stderr", got.stdout, got.stderr, want)
	}

	// Into the emulator, exactly; a second run changes nothing.
	summary := func(created, already, merged int) string {
		return fmt.Sprintf("imported 8 counters of export %s: %d created, %d already imported, %d merged\n", id, created, already, merged)
	}
	if got := tallyOK(t, "", "--addr", emulated.Addr, "import", "-i", file); got.stdout != summary(8, 0, 0) {
		t.Errorf("import printed %q, want %q", got.stdout, summary(8, 0, 0))
	}
	checkCounters(t, "after the import", counters(t, dst), want)
	if got := tallyOK(t, "", "--addr", emulated.Addr, "import", "-i", file); got.stdout != summary(0, 8, 0) {
		t.Errorf("second import printed %q, want %q", got.stdout, summary(0, 8, 0))
	}
	checkCounters(t, "after the import again", counters(t, dst), want)

	// And back, through stdout: the same counters and values.
	back := tallyOK(t, "", "--addr", emulated.Addr, "export")
	ex, err := readExport(strings.NewReader(back.stdout), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]counterState{}
	for _, c := range ex.counters {
		exported[c.ID] = counterState{c.ShardCount, int64(*c.Value)}
	}
	checkCounters(t, "exported from the emulator", exported, want)

	// --prefix exports only the counters it names.
	byPrefix := tallyOK(t, "", "--addr", embedded.Addr, "export", "--prefix", "counters/b-")
	if ex, err := readExport(strings.NewReader(byPrefix.stdout), "stdout"); err != nil || len(ex.counters) != 1 || ex.counters[0].ID != "b-neg" || ex.header.Prefix != "b-" {
		t.Errorf("export --prefix b-: %v\n%s", err, byPrefix.stdout)
	}

	t.Run("interrupted", func(t *testing.T) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(data), "\n")

		// A file cut short applies nothing.
		cut := strings.Join(lines[:5], "")
		got := runTallyWith(context.Background(), nil, cut, "--addr", second.Addr, "import")
		if got.code != exitFailed || got.stderr != "tally: stdin: incomplete: no end line after 4 counters (the export failed or the file was cut short)\n" {
			t.Errorf("import of a cut file: exit code %d, stderr %q", got.code, got.stderr)
		}
		checkCounters(t, "after the cut file", counters(t, dst2), map[string]counterState{})

		// Someone else's counters stop the import: d-min and f-one exist
		// with other values. g-unicode-✓ exists at 0 with its shard count,
		// as a run stopped between creating it and adding its value leaves it.
		makeCounter(t, dst2, "d-min", counterState{1, 5})
		makeCounter(t, dst2, "f-one", counterState{1, 7})
		makeCounter(t, dst2, "g-unicode-✓", counterState{5, 0})
		got = runTally(context.Background(), "--addr", second.Addr, "import", "-i", file)
		wantErr := "tally: import stopped at counter \"d-min\" (line 5), 3 of 8 counters done; run the same import again to continue\n" +
			"tally: counter \"d-min\": exists already (value 5, 1 shard) and this export was not imported into it; " +
			"add --merge to add the exported value -9223372036854775808 to it, or delete it first\n"
		checkOutcome(t, got, outcome{code: exitFailed, stderr: wantErr})
		partial := map[string]counterState{"d-min": {1, 5}, "f-one": {1, 7}, "g-unicode-✓": {5, 0}}
		for _, id := range ids[:3] {
			partial[id] = want[id]
		}
		checkCounters(t, "after the stopped import", counters(t, dst2), partial)

		// Deleted, d-min is imported by the next run, which stops at f-one.
		tallyOK(t, "", "--addr", second.Addr, "delete", "d-min")
		got = runTally(context.Background(), "--addr", second.Addr, "import", "-i", file)
		if got.code != exitFailed || !strings.HasPrefix(got.stderr, "tally: import stopped at counter \"f-one\" (line 7), 5 of 8 counters done;") {
			t.Errorf("second import: exit code %d, stderr:\n%s", got.code, got.stderr)
		}
		for _, id := range ids[:5] {
			partial[id] = want[id]
		}
		checkCounters(t, "after the second stopped import", counters(t, dst2), partial)

		// --merge adds f-one's value to the 7 there, fills g-unicode-✓ and
		// creates h-many; the rest was imported already.
		got = tallyOK(t, "", "--addr", second.Addr, "import", "-i", file, "--merge")
		if got.stdout != summary(2, 5, 1) {
			t.Errorf("import --merge printed %q, want %q", got.stdout, summary(2, 5, 1))
		}
		merged := map[string]counterState{}
		for id, s := range want {
			merged[id] = s
		}
		merged["f-one"] = counterState{1, 7 + 1}
		checkCounters(t, "after the merge", counters(t, dst2), merged)

		// Nothing is applied twice, with --merge or without, from a file or
		// from stdin.
		if got := tallyOK(t, "", "--addr", second.Addr, "import", "-i", file, "--merge"); got.stdout != summary(0, 8, 0) {
			t.Errorf("import --merge again printed %q, want %q", got.stdout, summary(0, 8, 0))
		}
		if got := tallyOK(t, string(data), "--addr", second.Addr, "--json", "import"); got.stdout !=
			fmt.Sprintf(`{"export_id":"%s","counters":8,"created":0,"already_imported":8,"merged":0}`+"\n", id) {
			t.Errorf("import --json printed %q", got.stdout)
		}
		checkCounters(t, "after the imports again", counters(t, dst2), merged)

		// A counter deleted after its import is imported again, once.
		tallyOK(t, "", "--addr", second.Addr, "delete", "b-neg")
		if got := tallyOK(t, "", "--addr", second.Addr, "import", "-i", file); got.stdout != summary(1, 7, 0) {
			t.Errorf("import after a delete printed %q, want %q", got.stdout, summary(1, 7, 0))
		}
		if got := tallyOK(t, "", "--addr", second.Addr, "import", "-i", file); got.stdout != summary(0, 8, 0) {
			t.Errorf("import after a delete, again, printed %q, want %q", got.stdout, summary(0, 8, 0))
		}
		checkCounters(t, "after the delete and imports", counters(t, dst2), merged)

		// Another key prefix is another import: it refuses what exists.
		got = runTally(context.Background(), "--addr", second.Addr, "import", "-i", file, "--key-prefix", "again:")
		if got.code != exitFailed || !strings.Contains(got.stderr, "counter \"b-neg\": exists already") {
			t.Errorf("import with another key prefix: exit code %d, stderr:\n%s", got.code, got.stderr)
		}
		checkCounters(t, "after another import", counters(t, dst2), merged)
	})
}
