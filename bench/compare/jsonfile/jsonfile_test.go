package jsonfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestAddIsDurableAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.json")
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Value(); v != 0 {
		t.Fatalf("new counter = %d, want 0", v)
	}
	for want := int64(1); want <= 3; want++ {
		if v, err := c.Add(1); err != nil || v != want {
			t.Fatalf("Add = %d, %v; want %d", v, err, want)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d document
	if err := json.Unmarshal(b, &d); err != nil || d.Value != 3 {
		t.Fatalf("file %q: %+v, %v; want value 3", b, d, err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	again, err := Open(path)
	if err != nil || again.Value() != 3 {
		t.Fatalf("reopened: %v, %v; want 3", again, err)
	}
}

// A crash between writing the temporary file and renaming it leaves the old value current.
func TestOpenIgnoresTornTemporaryFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter.json")
	c, _ := Open(path)
	if _, err := c.Add(5); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".tmp", []byte(`{"val`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path)
	if err != nil || c.Value() != 5 {
		t.Fatalf("Open = %v, %v; want 5", c, err)
	}
	if v, err := c.Add(1); err != nil || v != 6 {
		t.Fatalf("Add over the torn temporary file = %d, %v; want 6", v, err)
	}
}

func TestConcurrentAdds(t *testing.T) {
	c, _ := Open(filepath.Join(t.TempDir(), "counter.json"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if _, err := c.Add(1); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if v := c.Value(); v != 80 {
		t.Fatalf("value = %d, want 80", v)
	}
}

func TestAddFailureKeepsValue(t *testing.T) {
	c, _ := Open(filepath.Join(t.TempDir(), "missing-dir", "counter.json"))
	if _, err := c.Add(1); err == nil {
		t.Fatal("Add into a missing directory succeeded")
	}
	if v := c.Value(); v != 0 {
		t.Fatalf("value after a failed Add = %d, want 0", v)
	}
}

func TestServe(t *testing.T) {
	c, _ := Open(filepath.Join(t.TempDir(), "counter.json"))
	var out strings.Builder
	if err := Serve(c, strings.NewReader("inc\ninc\nget\nbogus\n"), &out); err != nil {
		t.Fatal(err)
	}
	want := "1\n2\n2\nerror: unknown request \"bogus\"\n"
	if out.String() != want {
		t.Fatalf("answers %q, want %q", out.String(), want)
	}
}
