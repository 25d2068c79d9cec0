package cloudrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/internal/testnet"
	"github.com/tally-dev/tally/internal/testproc"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/terraform"
)

func TestMain(m *testing.M) { testproc.Main(m) }

var moduleDir = filepath.Join("..", "..", "terraform", "modules", "tally")

// cloudRunTermination is how long Cloud Run waits after SIGTERM before it kills the instance.
const cloudRunTermination = 10 * time.Second

// tallydServing finds the address in the line tallyd prints once it serves.
func tallydServing(line string) (string, bool) {
	return strings.CutPrefix(strings.TrimSpace(line), "tallyd serving on ")
}

// cloudRunEnv is the environment of tallyd's container as the module plans it for vars, as
// Cloud Run completes it (PORT, K_*), with the two changes a machine without Google Cloud needs:
// embedded storage in dataDir instead of Firestore, and the admin listener on a free loopback
// port rather than one another process may hold.
func cloudRunEnv(t *testing.T, vars map[string]string, port, dataDir string) []string {
	t.Helper()
	c, err := terraform.CloudRunContainer(moduleDir, vars)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Args) > 0 {
		t.Fatalf("the module gives tallyd arguments %q; this test runs it with none", c.Args)
	}
	env := map[string]string{}
	for k, v := range c.Env {
		env[k] = v
	}
	// Values Terraform knows only after apply, as they would be.
	samples := map[string]string{"GOOGLE_CLOUD_PROJECT": "my-project", "TALLY_DATABASE": "tally"}
	for _, k := range c.Computed {
		v, ok := samples[k]
		if !ok {
			t.Fatalf("the module sets %s from a resource; give this test a sample value for it", k)
		}
		env[k] = v
	}
	env["TALLY_STORAGE"] = "embedded"
	env["TALLY_DATA_DIR"] = dataDir
	env["TALLY_ADMIN_ADDR"] = testproc.FreeAddr(t)
	env["PORT"] = port
	env["K_SERVICE"] = "tally"
	env["K_REVISION"] = "tally-00001-abc"
	env["K_CONFIGURATION"] = "tally"
	out := []string{"HOME=" + t.TempDir()}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	_, port, err := net.SplitHostPort(testproc.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func TestTallydRunsAsOnCloudRun(t *testing.T) {
	t.Parallel()
	bin := testproc.Build(t, testproc.Tallyd)[0]
	const token = "s3cr3t-token-for-the-test"
	sum := sha256.Sum256([]byte(token))
	tokensFile := filepath.Join(t.TempDir(), "tokens.json")
	policy := fmt.Sprintf(`{"principals": [{"id": "web", "token_sha256": %q, "prefixes": [""], "permissions": ["read", "write"]}]}`, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(tokensFile, []byte(policy), 0o444); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		vars   map[string]string
		tokens bool
		// silentCollector points otlp_endpoint at a collector that accepts connections and
		// never answers: the exit's telemetry flush must not hold tallyd past Cloud Run's window.
		silentCollector bool
	}{
		{name: "IAM only"},
		{name: "token file", vars: map[string]string{"token_secret_id": `"tally-tokens"`}, tokens: true},
		{name: "tracing to a collector that never answers", silentCollector: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.silentCollector {
				tt.vars = map[string]string{"otlp_endpoint": `"http://` + testnet.SilentListener(t).Addr().String() + `"`}
			}
			port := freePort(t)
			env := cloudRunEnv(t, tt.vars, port, filepath.Join(t.TempDir(), "data"))
			if tt.tokens {
				// The module points TALLY_TOKENS_FILE at the secret's mount; here it is a file.
				for i, kv := range env {
					if strings.HasPrefix(kv, "TALLY_TOKENS_FILE=") {
						env[i] = "TALLY_TOKENS_FILE=" + tokensFile
					}
				}
			}
			cmd := exec.Command(bin) // no arguments: Cloud Run passes none
			cmd.Env = env
			p := testproc.StartServing(t, "tallyd", cmd, tallydServing)

			host, servedPort, err := net.SplitHostPort(p.Addr)
			if err != nil {
				t.Fatal(err)
			}
			if servedPort != port || !net.ParseIP(host).IsUnspecified() {
				t.Errorf("tallyd serves on %s; Cloud Run needs 0.0.0.0:%s", p.Addr, port)
			}
			conn, err := grpc.NewClient(net.JoinHostPort("127.0.0.1", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			// The probes Cloud Run sends, as the module plans them: grpc.health.v1 on the port,
			// without credentials, for the health service each names.
			planned, err := terraform.CloudRunContainer(moduleDir, tt.vars)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"startup_probe", "liveness_probe"} {
				probe, ok := planned.Probes[name]
				if !ok || probe.Kind != "grpc" {
					t.Fatalf("the module's %s is %+v; this test sends gRPC health checks", name, probe)
				}
				res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: probe.Service})
				if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					t.Fatalf("%s's health check of %q: %v, %v; want SERVING", name, probe.Service, res, err)
				}
			}

			counters := tallyv1.NewCounterServiceClient(conn)
			inc := &tallyv1.IncrementRequest{Name: "counters/page-views", Delta: 3}
			if tt.tokens {
				if _, err := counters.Increment(ctx, inc); status.Code(err) != codes.Unauthenticated {
					t.Errorf("an increment without a token: %v; want UNAUTHENTICATED", err)
				}
				ctx = metadata.AppendToOutgoingContext(ctx, "x-tally-token", token)
			}
			if _, err := counters.Increment(ctx, inc); err != nil {
				t.Fatalf("increment: %v", err)
			}
			got, err := counters.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/page-views"})
			if err != nil || got.GetValue() != 3 {
				t.Fatalf("get: %v, %v; want 3", got, err)
			}

			// Cloud Run's shutdown: SIGTERM, and SIGKILL 10 seconds later.
			start := time.Now()
			err = p.Signal(syscall.SIGTERM)
			if took := time.Since(start); took >= cloudRunTermination {
				t.Errorf("tallyd took %s to exit after SIGTERM; Cloud Run kills it after %s", took, cloudRunTermination)
			}
			if err != nil {
				t.Errorf("tallyd exited with %v after SIGTERM, want status 0", err)
			}
		})
	}
}
