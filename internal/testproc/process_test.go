package testproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// childEnv, when set, turns TestHelperProcess into a child of the tests below: it prints its
// pid as the address it serves on, a line per argument, and then waits to be killed.
const childEnv = "TESTPROC_CHILD"

func TestHelperProcess(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("only runs as a child of the other tests")
	}
	fmt.Println("starting")
	fmt.Printf("serving on %d\n", os.Getpid())
	for _, arg := range strings.Split(os.Getenv(childEnv), ",") {
		fmt.Println(arg)
	}
	select {}
}

func servingOn(line string) (string, bool) { return strings.CutPrefix(line, "serving on ") }

func child(lines string) *exec.Cmd { return Helper("TestHelperProcess", childEnv+"="+lines) }

func TestStartServingAndRestart(t *testing.T) {
	t.Parallel()
	p := StartServing(t, "child", child("a"), servingOn)
	if want := fmt.Sprint(p.cmd.Process.Pid); p.Addr != want {
		t.Fatalf("Addr = %q, want the pid %s the child printed", p.Addr, want)
	}
	again := p.Restart(t)
	select {
	case <-p.Exited():
	default:
		t.Fatal("the first process still runs after Restart")
	}
	if again.Addr == p.Addr || again.Addr != fmt.Sprint(again.cmd.Process.Pid) {
		t.Fatalf("restarted process serves on %q, the first on %q", again.Addr, p.Addr)
	}
	var exit *exec.ExitError
	if err := again.Signal(syscall.SIGTERM); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("Signal(SIGTERM) = %v, want the exit by SIGTERM", err)
	}
	if err := again.Kill(); !errors.As(err, &exit) {
		t.Fatalf("Kill of an exited process = %v, want its exit error again", err)
	}
}

func TestStartHandsOverEveryLine(t *testing.T) {
	t.Parallel()
	lines := make(chan string, 10)
	p := Start(t, "child", child("x,y,last"), func(line string) bool {
		lines <- line
		return line != "last"
	})
	var got []string
	for line := range lines {
		if got = append(got, line); line == "last" {
			break
		}
	}
	if len(got) != 5 || got[0] != "starting" || got[2] != "x" || got[3] != "y" {
		t.Fatalf("lines %q, want starting, serving on <pid>, x, y, last", got)
	}
	if err := p.Kill(); err == nil {
		t.Fatal("a SIGKILLed child reports a clean exit")
	}
}
