package systems

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startTimeout bounds the wait for a server to answer after it was started.
const startTimeout = 90 * time.Second

// process is a server program that is started, SIGKILLed and started again on the same data.
type process struct {
	name   string
	newCmd func() *exec.Cmd // a fresh command for each start
	log    string           // file that the program's output is appended to
	// stop is the signal that asks the program to shut down cleanly (SIGTERM when zero).
	stop syscall.Signal

	cmd    *exec.Cmd
	exited chan struct{}
}

// start starts the program in a process group of its own, which Kill kills whole, and which dies
// with the comparison if the comparison dies first. Output goes to p.log unless newCmd set it.
func (p *process) start() error {
	cmd := p.newCmd()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	var logFile *os.File
	if cmd.Stdout == nil || cmd.Stderr == nil {
		f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		logFile = f
		if cmd.Stdout == nil {
			cmd.Stdout = f
		}
		if cmd.Stderr == nil {
			cmd.Stderr = f
		}
	}
	err := cmd.Start()
	if logFile != nil {
		logFile.Close() // the child has its own copy
	}
	if err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(p.exited)
	return nil
}

// running reports whether the program started last is still running. A nil process is not.
func (p *process) running() bool {
	if p == nil || p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill SIGKILLs the program, its process group and every process descended from it (some
// servers, PostgreSQL among them, put each child in a session of its own), all at once, as a
// crash would, and waits until they are gone.
func (p *process) kill() error {
	if !p.running() {
		return nil
	}
	pid := p.cmd.Process.Pid
	// Stopped, the program forks no new child while its children are listed.
	_ = syscall.Kill(-pid, syscall.SIGSTOP)
	children := descendants(pid)
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	for _, c := range children {
		_ = syscall.Kill(c, syscall.SIGKILL)
	}
	<-p.exited
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range children {
		for alive(c) {
			if time.Now().After(deadline) {
				return fmt.Errorf("killing %s: process %d still alive", p.name, c)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// descendants lists the processes descended from pid, from /proc.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(child); ok {
			parent[child] = ppid
		}
	}
	var out []int
	for child := range parent {
		for a, hops := parent[child], 0; a > 1 && hops < 64; a, hops = parent[a], hops+1 {
			if a == pid {
				out = append(out, child)
				break
			}
		}
	}
	return out
}

// parentOf reads the parent of pid from /proc/pid/stat.
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// alive reports whether pid is a process that has not yet exited (a zombie has).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// shutdown asks the program to stop, and kills it if it has not after 15 seconds.
func (p *process) shutdown() error {
	if !p.running() {
		return nil
	}
	sig := p.stop
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
		// Whatever it left in its group (a server's helpers) goes too.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		return nil
	case <-time.After(15 * time.Second):
		return p.kill()
	}
}

// waitReady calls probe until it succeeds, failing early if the program exits.
func (p *process) waitReady(ctx context.Context, probe func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		last = probe(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		if !p.running() {
			return fmt.Errorf("%s exited while starting: %v%s", p.name, last, p.logTail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer within %v: %v%s", p.name, startTimeout, last, p.logTail())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// logTail returns the end of the program's log, for an error message.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.log)
	if err != nil || len(b) == 0 {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return "\n" + p.log + ":\n" + s
}
