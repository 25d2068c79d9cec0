package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/tally-dev/tally/internal/testproc"
)

// TestReplicasAgreeThroughTheCLI is the issue "Exact across replicas" as a user meets it: two
// tallyd replicas share one Firestore emulator, and the CLI talks to either. A counter deleted
// through one replica and incremented again through the other must hold exactly the increments
// made since the delete, and a repeated key must be a duplicate.
func TestReplicasAgreeThroughTheCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the emulator, two tallyd replicas and the CLI as processes")
	}
	t.Parallel()
	bins := buildBinaries(t)
	em := testproc.StartEmulator(t, bins.emulator, "--in-memory", "--host", "127.0.0.1", "--port", "0", "--indexes", deployedIndexes)
	replicas := map[string]*testproc.Process{
		"A": startReplica(t, bins.tallyd, em.Addr, "127.0.0.1:0"),
		"B": startReplica(t, bins.tallyd, em.Addr, "127.0.0.1:0"),
	}

	// Which shard each increment lands on is random, and so, before the fix, whether counts got
	// lost: a single run could pass by chance. The sequence runs on a few counters.
	for _, id := range []string{"c", "d", "e"} {
		t.Run(id, func(t *testing.T) {
			for _, step := range cliSequence(id) {
				// Every step runs even after one failed: the whole sequence is the report.
				t.Run(step.replica+": tally "+strings.Join(step.args, " "), func(t *testing.T) {
					args := append([]string{"--addr", replicas[step.replica].Addr, "--json"}, step.args...)
					stdout, stderr, err := runCLI(bins.tally, args...)
					if err != nil {
						t.Fatalf("tally %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
					}
					var out map[string]any
					if err := json.Unmarshal([]byte(stdout), &out); err != nil {
						t.Fatalf("output is not one JSON object: %v\n%s", err, stdout)
					}
					if step.check != nil {
						if problem := step.check(out); problem != "" {
							t.Errorf("%s; output: %s", problem, strings.TrimSpace(stdout))
						}
					}
				})
			}
		})
	}
}

// cliStep is one command of a user's session: the replica it goes to, the arguments after the
// global flags, and what is wrong with the JSON it printed, if anything.
type cliStep struct {
	replica string
	args    []string
	check   func(out map[string]any) string
}

// cliSequence is the reproduction on counter id: increment through A, delete through
// B, five keyed increments of 10 through A, read through B (and A), and a repeated key.
func cliSequence(id string) []cliStep {
	steps := []cliStep{
		{"A", []string{"inc", id, "1"}, applied},
		{"B", []string{"delete", id}, nil},
	}
	for k := 1; k <= 5; k++ {
		steps = append(steps, cliStep{"A", []string{"inc", id, "10", "--key", "k" + strconv.Itoa(k)}, applied})
	}
	return append(steps,
		cliStep{"B", []string{"get", id}, valueIs("50")},
		cliStep{"A", []string{"get", id}, valueIs("50")},
		cliStep{"A", []string{"inc", id, "10", "--key", "k1"}, duplicate},
	)
}

// runCLI runs the tally binary as a user would; err is the exit status, if not zero.
func runCLI(bin string, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		err = errors.New(exit.String())
	}
	return out.String(), errOut.String(), err
}

// applied checks the JSON of `tally inc` that applied its increment.
func applied(out map[string]any) string {
	if out["duplicate"] != false {
		return "the increment was not applied: answered as a duplicate"
	}
	return ""
}

// duplicate checks the JSON of `tally inc` repeating a key.
func duplicate(out map[string]any) string {
	if out["duplicate"] != true {
		return "a repeated key was applied again: not answered as a duplicate"
	}
	return ""
}

// valueIs checks the JSON of `tally get`: the proto JSON mapping writes an int64 as a string.
func valueIs(want string) func(map[string]any) string {
	return func(out map[string]any) string {
		if out["value"] != want {
			return "value " + jsonString(out["value"]) + ", want " + want
		}
		return ""
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
