package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progressLine shows the run's progress on stderr: on a terminal one line
// rewritten in place, otherwise a line per interval.
type progressLine struct {
	w        io.Writer
	terminal bool
	shown    bool
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

func (p *progressLine) show(line string) {
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line) // \x1b[K clears the rest of a longer previous line
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.shown = true
}

// end moves a terminal past the last line shown.
func (p *progressLine) end() {
	if p.terminal && p.shown {
		fmt.Fprintln(p.w)
	}
}

// progressText is one progress line: the time since the start, and of the
// last interval the successful calls per second, their p99 latency and the
// errors.
func progressText(elapsed, interval time.Duration, w window, totalErrors uint64) string {
	p99 := "-"
	if w.latency.n > 0 {
		p99 = formatLatency(w.latency.quantile(0.99))
	}
	return fmt.Sprintf("%6.1fs  %s calls/s  p99 %s  errors %s (%s in all)", elapsed.Seconds(),
		groupDigits(int64(perSecond(w.ok, interval))), p99, groupDigits(int64(w.errors)), groupDigits(int64(totalErrors)))
}

// startProgress shows a progress line every interval until the returned
// function is called; an interval of 0 shows none.
func startProgress(stderr io.Writer, interval time.Duration, rec *recorder) (stop func()) {
	if interval <= 0 {
		return func() {}
	}
	p := &progressLine{w: stderr, terminal: isTerminal(stderr)}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		last := rec.start
		var errs uint64
		for {
			select {
			case <-done:
				p.end()
				return
			case now := <-ticker.C:
				w := rec.takeProgress()
				errs += w.errors
				p.show(progressText(now.Sub(rec.start), now.Sub(last), w, errs))
				last = now
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
