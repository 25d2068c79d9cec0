// Package report prints the comparison's results: the throughput table with each store's ratio to
// a baseline (tallyd with keys), the durability table, and an SVG chart of the throughput. The
// tables are Markdown, readable as they are in a terminal and ready to paste into the docs.
package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tally-dev/tally/bench/compare/crash"
	"github.com/tally-dev/tally/bench/compare/load"
)

// Throughput is one store measured at one number of clients.
type Throughput struct {
	System string
	// NotDurable marks a store that acknowledges an increment before it is on disk (Redis
	// everysec, Memcached); the chart says so.
	NotDurable bool
	load.Result
}

// Durability is one store's kill run; Err is set if the run could not finish.
type Durability struct {
	System string
	crash.Result
	Err error
}

// Ratio is the row's throughput over the baseline's at the same number of clients, and false
// when the baseline has no such row or measured nothing.
func Ratio(rows []Throughput, row Throughput, baseline string) (float64, bool) {
	for _, b := range rows {
		if b.System == baseline && b.Clients == row.Clients && b.Throughput() > 0 {
			return row.Throughput() / b.Throughput(), true
		}
	}
	return 0, false
}

// ThroughputTable writes the throughput table, rows in the given order.
func ThroughputTable(w io.Writer, rows []Throughput, baseline string) {
	fmt.Fprintf(w, "| system | clients | increments/s | p50 | p99 | errors | vs %s |\n", baseline)
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rows {
		ratio := "–"
		if x, ok := Ratio(rows, r, baseline); ok {
			ratio = FormatRatio(x)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s |\n", r.System, r.Clients,
			Thousands(int64(r.Throughput()+0.5)), FormatLatency(r.P50), FormatLatency(r.P99),
			Thousands(r.Errors), ratio)
	}
}

// DurabilityTable writes the durability table, rows in the given order.
func DurabilityTable(w io.Writer, rows []Durability) {
	fmt.Fprintln(w, "| system | kills | acknowledged | retried calls | final value | lost (acked − value) | double-counted (value − acked) |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rows {
		if r.Err != nil {
			fmt.Fprintf(w, "| %s | %d | %s | %s | – | – | – |\n", r.System, r.Kills, Thousands(r.Acked), Thousands(r.Retries))
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s |\n", r.System, r.Kills, Thousands(r.Acked),
			Thousands(r.Retries), Thousands(r.Value), Thousands(r.Lost()), doubled(r.Result))
	}
	for _, r := range rows {
		if r.Err != nil {
			fmt.Fprintf(w, "\n%s: the run failed: %v\n", r.System, r.Err)
		}
	}
}

// doubled is the double-counted cell: exact when every increment started was acknowledged,
// else a range, since an increment never acknowledged may have been applied once.
func doubled(r crash.Result) string {
	if r.Unacked == 0 || r.Extra() == 0 {
		return Thousands(r.Extra())
	}
	return fmt.Sprintf("%s to %s (%s never acknowledged)", Thousands(r.Doubled()), Thousands(r.Extra()), Thousands(r.Unacked))
}

// Thousands formats n with commas between groups of three digits.
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// FormatLatency formats d in milliseconds with three significant digits ("–" for none).
func FormatLatency(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 1:
		return fmt.Sprintf("%.3f ms", ms)
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// FormatRatio formats x as a multiple: 45×, 1.23×, 0.045×.
func FormatRatio(x float64) string {
	switch {
	case x >= 10:
		return fmt.Sprintf("%.0f×", x)
	case x >= 0.1:
		return fmt.Sprintf("%.2f×", x)
	}
	return fmt.Sprintf("%.3f×", x)
}

// Short formats a rate compactly for the chart: 950, 9.5k, 95k.
func Short(x float64) string {
	switch {
	case x >= 100_000:
		return fmt.Sprintf("%.0fk", x/1000)
	case x >= 10_000:
		return fmt.Sprintf("%.1fk", x/1000)
	case x >= 1000:
		return fmt.Sprintf("%.2fk", x/1000)
	}
	return fmt.Sprintf("%.0f", x)
}
