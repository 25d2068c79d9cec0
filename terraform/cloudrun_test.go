package terraform

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

var moduleDir = filepath.Join("modules", "tally")

// The variable values the service is checked with: the defaults, and each optional feature on.
var serviceScenarios = map[string]map[string]string{
	"defaults":           nil,
	"tokens":             {"token_secret_id": `"tally-tokens"`},
	"tokens elsewhere":   {"token_secret_id": `"projects/other-project/secrets/tally-tokens"`},
	"tracing":            {"otlp_endpoint": `"http://collector:4317"`},
	"managed prometheus": {"enable_managed_prometheus": "true"},
	"extra env":          {"extra_env": `{ TALLY_MAX_CONCURRENT_CALLS = "2048" }`},
	"everything":         {"project_id": `"my-project"`, "token_secret_id": `"t"`, "otlp_endpoint": `"https://otlp.example.com"`, "enable_managed_prometheus": "true", "log_level": `"debug"`},
}

func TestCloudRunContainer(t *testing.T) {
	for name, vars := range serviceScenarios {
		t.Run(name, func(t *testing.T) {
			c, err := CloudRunContainer(moduleDir, vars)
			if err != nil {
				t.Fatal(err)
			}
			if c.Name != "tallyd" {
				t.Errorf("serving container %q, want tallyd", c.Name)
			}
			has := func(n string) bool {
				_, known := c.Env[n]
				return known || strings.Contains(" "+strings.Join(c.Computed, " ")+" ", " "+n+" ")
			}
			for _, n := range []string{"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"} {
				if has(n) {
					t.Errorf("the module sets %s, which Cloud Run sets itself", n)
				}
			}
			for _, n := range []string{"TALLY_STORAGE", "GOOGLE_CLOUD_PROJECT", "TALLY_DATABASE", "TALLY_SHUTDOWN_TIMEOUT", "TALLY_KEY_RETENTION"} {
				if !has(n) {
					t.Errorf("%s is not set", n)
				}
			}
			if c.Env["TALLY_STORAGE"] != "firestore" {
				t.Errorf("TALLY_STORAGE=%q, want firestore", c.Env["TALLY_STORAGE"])
			}
			// Auth: a token file from the secret, or --insecure, never both or neither.
			tokens := vars["token_secret_id"] != ""
			if _, ok := c.Env["TALLY_TOKENS_FILE"]; ok != tokens {
				t.Errorf("TALLY_TOKENS_FILE set: %v, with a token secret: %v", ok, tokens)
			}
			if c.Env["TALLY_INSECURE"] == "true" == tokens {
				t.Errorf("TALLY_INSECURE=%q with a token secret: %v", c.Env["TALLY_INSECURE"], tokens)
			}
			// Whether the whole shutdown then fits Cloud Run's 10 s before SIGKILL is checked
			// against tallyd's own phases by cmd/tallyd's TestTerraformEnvMatchesFlags.
			if _, err := time.ParseDuration(c.Env["TALLY_SHUTDOWN_TIMEOUT"]); err != nil {
				t.Errorf("TALLY_SHUTDOWN_TIMEOUT: %v", err)
			}
			if addr, ok := c.Env["TALLY_ADMIN_ADDR"]; ok && addr != "" {
				host, _, err := net.SplitHostPort(addr)
				if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
					t.Errorf("TALLY_ADMIN_ADDR=%q: the admin listener must stay on loopback", addr)
				}
			}
		})
	}
}

// TestCloudRunService checks the service's shape as planned: gRPC over h2c end to end, probes
// on gRPC health at the serving port (the startup probe for the server as a whole, the liveness
// probe for a service of its own), the token secret mounted where TALLY_TOKENS_FILE points.
func TestCloudRunService(t *testing.T) {
	cfg := loadConfigT(t, moduleDir)
	for name, vars := range serviceScenarios {
		t.Run(name, func(t *testing.T) {
			e, err := newEvaluator(cfg, vars)
			if err != nil {
				t.Fatal(err)
			}
			svcs := cfg.resourcesOf("google_cloud_run_v2_service")
			instances, err := e.planResource(svcs[0])
			if err != nil {
				t.Fatal(err)
			}
			svc := instances[""]
			tmpl := svc.blocks["template"][0]
			var serving *planned
			for _, c := range tmpl.blocks["containers"] {
				if len(c.blocks["ports"]) > 0 {
					serving = c
				}
			}
			if serving == nil {
				t.Fatal("no container with a port")
			}
			port := serving.blocks["ports"][0]
			if port.str("name") != "h2c" {
				t.Errorf("port name %q, want h2c: Cloud Run would speak HTTP/1.1 to tallyd", port.str("name"))
			}
			c, err := CloudRunContainer(moduleDir, vars)
			if err != nil {
				t.Fatal(err)
			}
			// Both probes are gRPC health (Cloud Run takes no TCP liveness probe). Startup waits
			// for the server as a whole, SERVING once Firestore is reachable; liveness asks about
			// a service of its own, which does not follow Firestore, so that an outage of
			// Firestore restarts no instance. cmd/tallyd's TestTerraformProbesAskTallydsHealth
			// holds the name against the service tallyd registers.
			for _, probe := range []struct {
				name        string
				wantService bool
			}{{"startup_probe", false}, {"liveness_probe", true}} {
				p := serving.blocks[probe.name]
				if len(p) != 1 || len(p[0].blocks["grpc"]) != 1 || len(p[0].blocks) != 1 {
					t.Errorf("%s is not a grpc probe alone", probe.name)
					continue
				}
				grpcProbe := p[0].blocks["grpc"][0]
				if got, want := grpcProbe.attrs["port"], port.attrs["container_port"]; !got.RawEquals(want) {
					t.Errorf("%s probes port %v, the container serves on %v", probe.name, got.GoString(), want.GoString())
				}
				service := grpcProbe.str("service")
				if (service != "") != probe.wantService {
					t.Errorf("%s asks about health service %q; want the server as a whole: %v", probe.name, service, !probe.wantService)
				}
				// What CloudRunContainer reports, which cmd/tallyd's test reads, is what is planned.
				want := Probe{Kind: "grpc", Service: service}
				if n, ok := grpcProbe.attrs["port"]; ok && n.Type() == cty.Number {
					i, _ := n.AsBigFloat().Int64()
					want.Port = int(i)
				}
				if got := c.Probes[probe.name]; got != want {
					t.Errorf("CloudRunContainer reports %s as %+v, planned %+v", probe.name, got, want)
				}
			}
			file, tokens := c.Env["TALLY_TOKENS_FILE"]
			mounts := serving.blocks["volume_mounts"]
			if !tokens {
				if len(mounts) > 0 || len(tmpl.blocks["volumes"]) > 0 {
					t.Error("volumes without a token secret")
				}
				return
			}
			if len(mounts) != 1 || len(tmpl.blocks["volumes"]) != 1 {
				t.Fatalf("%d volume mounts and %d volumes with a token secret, want 1 each", len(mounts), len(tmpl.blocks["volumes"]))
			}
			vol := tmpl.blocks["volumes"][0]
			secret := vol.blocks["secret"][0]
			item := secret.blocks["items"][0]
			if vol.str("name") != mounts[0].str("name") {
				t.Errorf("volume %q is mounted as %q", vol.str("name"), mounts[0].str("name"))
			}
			if got := mounts[0].str("mount_path") + "/" + item.str("path"); got != file {
				t.Errorf("the secret is mounted at %s, TALLY_TOKENS_FILE=%s", got, file)
			}
			if want := strings.Trim(vars["token_secret_id"], `"`); secret.str("secret") != want {
				t.Errorf("mounted secret %q, want %q", secret.str("secret"), want)
			}
		})
	}
}

func TestCloudRunContainerErrors(t *testing.T) {
	if _, err := CloudRunContainer(moduleDir, map[string]string{"no_such_variable": "1"}); err == nil {
		t.Error("an unknown variable was accepted")
	}
	if _, err := CloudRunContainer(moduleDir, map[string]string{"min_instances": `"many"`}); err == nil {
		t.Error("a number variable took a word")
	}
	if _, err := CloudRunContainer(t.TempDir(), nil); err == nil {
		t.Error("an empty directory has a container")
	}
}
