package report

import (
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-dev/tally/bench/compare/crash"
	"github.com/tally-dev/tally/bench/compare/load"
)

func row(system string, clients int, ops int64) Throughput {
	return Throughput{System: system, Result: load.Result{Clients: clients, Ops: ops, Window: time.Second,
		P50: time.Millisecond, P99: 3 * time.Millisecond}}
}

var rows = []Throughput{
	row("tallyd, keys", 1, 1000), row("tallyd, keys", 64, 10000),
	row("Redis", 1, 2500), row("Redis", 64, 5000), row("Redis", 16, 100),
}

func TestRatio(t *testing.T) {
	for _, c := range []struct {
		r    Throughput
		want float64
		ok   bool
	}{
		{rows[2], 2.5, true},
		{rows[3], 0.5, true},
		{rows[0], 1, true},
		{rows[4], 0, false}, // no baseline at 16 clients
	} {
		got, ok := Ratio(rows, c.r, "tallyd, keys")
		if got != c.want || ok != c.ok {
			t.Errorf("Ratio(%s, %d clients) = %v, %v; want %v, %v", c.r.System, c.r.Clients, got, ok, c.want, c.ok)
		}
	}
}

func TestThroughputTable(t *testing.T) {
	var b strings.Builder
	ThroughputTable(&b, rows, "tallyd, keys")
	for _, want := range []string{
		"| system | clients | increments/s | p50 | p99 | errors | vs tallyd, keys |",
		"| tallyd, keys | 64 | 10,000 | 1.00 ms | 3.00 ms | 0 | 1.00× |",
		"| Redis | 1 | 2,500 | 1.00 ms | 3.00 ms | 0 | 2.50× |",
		"| Redis | 16 | 100 | 1.00 ms | 3.00 ms | 0 | – |",
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestDurabilityTable(t *testing.T) {
	var b strings.Builder
	DurabilityTable(&b, []Durability{
		{System: "A", Result: crash.Result{Kills: 3, Acked: 1000, Retries: 7, Value: 1000}},
		{System: "B", Result: crash.Result{Kills: 3, Acked: 1000, Value: 400}},
		{System: "C", Result: crash.Result{Kills: 3, Acked: 1000, Value: 1005}},
		{System: "D", Result: crash.Result{Kills: 3, Acked: 1000, Unacked: 2, Value: 1005}},
		{System: "E", Result: crash.Result{Kills: 1, Acked: 10}, Err: errors.New("restart failed")},
	})
	for _, want := range []string{
		"| A | 3 | 1,000 | 7 | 1,000 | 0 | 0 |",
		"| B | 3 | 1,000 | 0 | 400 | 600 | 0 |",
		"| C | 3 | 1,000 | 0 | 1,005 | 0 | 5 |",
		"| D | 3 | 1,000 | 0 | 1,005 | 0 | 3 to 5 (2 never acknowledged) |",
		"| E | 1 | 10 | 0 | – | – | – |",
		"E: the run failed: restart failed",
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Thousands(0), "0"}, {Thousands(999), "999"}, {Thousands(1000), "1,000"},
		{Thousands(1234567), "1,234,567"}, {Thousands(-45000), "-45,000"},
		{FormatLatency(0), "–"}, {FormatLatency(123 * time.Microsecond), "0.123 ms"},
		{FormatLatency(1500 * time.Microsecond), "1.50 ms"}, {FormatLatency(250 * time.Millisecond), "250 ms"},
		{FormatRatio(45.2), "45×"}, {FormatRatio(1.234), "1.23×"}, {FormatRatio(0.0456), "0.046×"},
		{Short(950), "950"}, {Short(9500), "9.50k"}, {Short(95000), "95.0k"}, {Short(250000), "250k"},
		{decade(1), "10"}, {decade(3), "1k"}, {decade(5), "100k"}, {decade(6), "1M"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestSVG(t *testing.T) {
	memcached := row("Memcached", 1, 30000)
	memcached.NotDurable = true
	const title = ">Increments per second of one hot counter (log scale; longer is faster)<"
	const legend = "*: not durable, acknowledged before the increment is on disk"
	for _, c := range []struct {
		name      string
		rows      []Throughput
		rects     int // background + legend squares + bars
		want, not []string
	}{
		{"durable stores", rows, 1 + 3 + 5,
			[]string{title, "tallyd, keys", ">Redis<", "2026-12-02 &amp; &lt;test&gt;", ">1k/s<", ">10k/s<", "10.0k", "64 clients"},
			[]string{legend, "Durable", "Redis *"}},
		{"a store that is not durable", append(slices.Clone(rows), memcached), 1 + 3 + 6,
			[]string{title, legend, `fill="#777777">Memcached *<`, `fill="#000000">Redis<`, ">100k/s<"},
			[]string{"Durable"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			if err := SVG(&b, c.rows, "2026-12-02 & <test>"); err != nil {
				t.Fatal(err)
			}
			d := xml.NewDecoder(strings.NewReader(b.String()))
			var rects int
			for {
				tok, err := d.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("not well-formed XML: %v\n%s", err, b.String())
				}
				if s, ok := tok.(xml.StartElement); ok && s.Name.Local == "rect" {
					rects++
				}
			}
			if rects != c.rects {
				t.Errorf("%d rects, want %d", rects, c.rects)
			}
			for _, want := range c.want {
				if !strings.Contains(b.String(), want) {
					t.Errorf("chart lacks %q:\n%s", want, b.String())
				}
			}
			for _, not := range c.not {
				if strings.Contains(b.String(), not) {
					t.Errorf("chart has %q", not)
				}
			}
		})
	}
}
