// Package machine describes the machine the comparison runs on: its cores, memory, kernel and
// the cost of one fdatasync on the disk the stores write to, which bounds every durable store's
// throughput at one client.
package machine

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Info is what Describe found.
type Info struct {
	Cores     int
	MemoryGiB float64
	CPU       string // the model name, or ""
	Kernel    string
	Go        string
	// Fdatasync is the median time of writing 4 KiB and fdatasyncing it in the data directory.
	Fdatasync time.Duration
}

func (i Info) String() string {
	cpu := ""
	if i.CPU != "" {
		cpu = " (" + i.CPU + ")"
	}
	return fmt.Sprintf("%d cores%s, %.0f GiB, Linux %s, %s; one 4 KiB write + fdatasync ≈ %.2f ms",
		i.Cores, cpu, i.MemoryGiB, i.Kernel, i.Go, float64(i.Fdatasync)/float64(time.Millisecond))
}

// Describe reads the machine's description and times fdatasync in dir.
func Describe(dir string) (Info, error) {
	i := Info{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		i.Kernel = strings.TrimSpace(string(b))
	}
	i.MemoryGiB = memTotalGiB()
	i.CPU = cpuModel()
	d, err := FdatasyncCost(dir, 200)
	i.Fdatasync = d
	return i, err
}

// FdatasyncCost writes 4 KiB at the end of a file in dir and fdatasyncs it, n times, and
// returns the median time of one.
func FdatasyncCost(dir string, n int) (time.Duration, error) {
	f, err := os.CreateTemp(dir, "fdatasync-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := make([]byte, 4096)
	times := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if _, err := f.Write(block); err != nil {
			return 0, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, err
		}
		times = append(times, time.Since(t))
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

// LoadAverage is the system's load average over 1, 5 and 15 minutes, as /proc/loadavg has it:
// on a machine shared with other work, it says how busy the cores were besides the comparison.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func memTotalGiB() float64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kib, _ := strconv.ParseFloat(fields[1], 64)
			return kib / (1 << 20)
		}
	}
	return 0
}

func cpuModel() string {
	b, err := os.ReadFile(filepath.Join("/proc", "cpuinfo"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
